"""firmware/models.py: model profiles (which outputs the product has, what drives each)."""
import pytest

import host_tools
from bmsutil import Rig

host_tools.use_firmware()
import board as BD  # noqa: E402
import codes as C  # noqa: E402
import indicators as L  # noqa: E402
import models as M  # noqa: E402


@pytest.mark.parametrize("name", sorted(M.PROFILES))
def test_every_profile_is_sound(name):
    outs = M.outputs(name)
    names = [o[0] for o in outs]
    assert len(set(names)) == len(names)
    assert set(names) <= set(BD.OUTPUT_NAMES)
    assert set(BD.REQUIRED_OUTPUTS) <= set(names)      # every board has these
    kinds = [o[1] for o in outs]
    assert kinds.count(M.KIND_PRE_ALARM) == 1 and kinds.count(M.KIND_ALTERNATOR) <= 1
    ports = [o[2] for o in outs if o[1] == M.KIND_PORT]
    assert sorted(ports) == [C.PORT_ATC, C.PORT_ATD]    # the power ports run their own logic
    leds = [o[2] for o in outs if o[1] == M.KIND_LED]
    assert len(set(leds)) == len(leds) and all(0 <= b < len(L.LED_NAMES) for b in leds)
    assert ("status_led", M.KIND_LED, L.LED_ERROR) in outs
    assert all(o[0] == "status_led" or o[0].startswith("led_") for o in outs if o[1] == M.KIND_LED)
    assert all(o[0].startswith("system_") for o in outs if o[1] == M.KIND_SYSTEM)
    gates = [o[2] for o in outs if o[1] == M.KIND_SYSTEM]
    assert len(set(gates)) == len(gates)
    assert M.leds(name) == sum(1 << b for b in leds)
    assert M.has_kind(name, M.KIND_ALTERNATOR) == (M.KIND_ALTERNATOR in kinds)
    assert M.has_kind(name, M.KIND_SYSTEM) == bool(gates)


def test_the_smart_bms_12_200_has_every_port_and_seven_indicators():
    assert M.DEFAULT == "smart_bms_12_200"
    outs = M.outputs(M.DEFAULT)
    assert len(outs) == 15
    assert dict((o[0], o[2]) for o in outs if o[1] == M.KIND_PORT) == {
        "load_disconnect": C.PORT_ATD, "charge_disconnect": C.PORT_ATC}
    assert [o[0] for o in outs if o[1] == M.KIND_ALTERNATOR] == ["alternator_port"]
    assert dict((o[0], o[2]) for o in outs if o[1] == M.KIND_SYSTEM) == {
        "system_charge": M.SYS_GATE_CHARGE, "system_discharge": M.SYS_GATE_DISCHARGE,
        "system_precharge": M.SYS_GATE_PRECHARGE}
    # behaviour §8, left to right, plus the error LED
    assert [(o[0], o[2]) for o in outs if o[1] == M.KIND_LED] == [
        ("status_led", L.LED_ERROR), ("led_alternator", L.LED_ALTERNATOR), ("led_bms_temp", L.LED_BMS_TEMP),
        ("led_bms_active", L.LED_BMS_ACTIVE), ("led_bluetooth", L.LED_BLUETOOTH), ("led_charge", L.LED_CHARGE),
        ("led_load", L.LED_LOAD), ("led_system_charge", L.LED_SYSTEM_CHARGE)]
    assert M.leds(M.DEFAULT) == 0xFF


def test_the_smallbms_ng_has_the_two_disconnects_pre_alarm_and_two_leds():
    assert [o[0] for o in M.outputs("smallbms_ng")] == ["load_disconnect", "charge_disconnect", "pre_alarm",
                                                       "status_led", "led_bluetooth"]
    assert M.leds("smallbms_ng") == (1 << L.LED_ERROR) | (1 << L.LED_BLUETOOTH)
    assert not M.has_kind("smallbms_ng", M.KIND_ALTERNATOR) and not M.has_kind("smallbms_ng", M.KIND_SYSTEM)


def test_an_unknown_profile_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model profile 'lynx'.*smallbms_ng, smart_bms_12_200"):
        M.outputs("lynx")


def test_a_bms_with_the_smallbms_ng_profile_never_drives_the_port_outputs():
    r = Rig(profile="smallbms_ng", remote="open")
    r.run(3000)
    assert r.st.atd and r.st.atc and not r.st.remote_on
    assert r.level("load_disconnect") == 1 and r.level("charge_disconnect") == 1
    r.set_remote("loop")
    r.set_power(alternator_v=14.4)               # an alternator running: still nothing to drive
    r.run_for(5000)
    assert r.app.alternator is None and r.app.system is None
    for name in ("alternator_port", "system_charge", "system_discharge", "system_precharge"):
        assert r.transitions(name) == [(0, 0)], name
    assert r.pm.pwm_duty(r.pins["alternator_port"]) == 0
    r2 = Rig(remote="loop")
    r2.set_power(alternator_v=14.4)
    r2.run(3000)
    assert r2.st.allowed[C.PORT_ALT] and r2.pm.pwm_duty(r2.pins["alternator_port"]) > 0
    assert r2.level("system_discharge") == 1


def test_main_build_takes_a_profile(pin_mock):
    import main
    app = main.build(host_tools.board_path("esp32-devkitc"), profile="smallbms_ng")
    assert len(app.ports) == 5
    assert len(main.build(host_tools.board_path("esp32-devkitc")).ports) == 15
    with pytest.raises(ValueError):
        main.build(host_tools.board_path("esp32-devkitc"), profile="nope")
