"""firmware/models.py: model profiles (which outputs the product has, what drives each)."""
import pytest

import host_tools
from bmsutil import Rig

host_tools.use_firmware()
import board as BD  # noqa: E402
import codes as C  # noqa: E402
import models as M  # noqa: E402


@pytest.mark.parametrize("name", sorted(M.PROFILES))
def test_every_profile_is_sound(name):
    outs = M.outputs(name)
    names = [o[0] for o in outs]
    assert len(set(names)) == len(names)
    assert set(names) <= set(BD.OUTPUT_NAMES)
    assert set(BD.REQUIRED_OUTPUTS) <= set(names)      # every board has these
    kinds = [o[1] for o in outs]
    assert kinds.count(M.KIND_PRE_ALARM) == 1 and kinds.count(M.KIND_LED) == 1
    ports = [o[2] for o in outs if o[1] == M.KIND_PORT]
    assert len(set(ports)) == len(ports) and {C.PORT_ATC, C.PORT_ATD} <= set(ports)
    assert all(0 <= p < C.N_PORTS for p in ports)


def test_the_smart_bms_12_200_has_every_port():
    assert M.DEFAULT == "smart_bms_12_200"
    ports = sorted(o[2] for o in M.outputs(M.DEFAULT) if o[1] == M.KIND_PORT)
    assert ports == list(range(C.N_PORTS))
    assert dict((o[0], o[2]) for o in M.outputs(M.DEFAULT) if o[1] == M.KIND_PORT) == {
        "load_disconnect": C.PORT_ATD, "charge_disconnect": C.PORT_ATC, "alternator_port": C.PORT_ALT,
        "system_charge": C.PORT_SYS_CHG, "system_discharge": C.PORT_SYS_DIS}


def test_the_smallbms_ng_has_the_two_disconnects_pre_alarm_and_led():
    assert [o[0] for o in M.outputs("smallbms_ng")] == ["load_disconnect", "charge_disconnect", "pre_alarm",
                                                       "status_led"]


def test_an_unknown_profile_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model profile 'lynx'.*smallbms_ng, smart_bms_12_200"):
        M.outputs("lynx")


def test_a_bms_with_the_smallbms_ng_profile_never_drives_the_port_outputs():
    r = Rig(profile="smallbms_ng", remote="open")
    r.run(3000)
    assert r.st.atd and r.st.atc and not r.st.remote_on
    assert r.level("load_disconnect") == 1 and r.level("charge_disconnect") == 1
    r.set_remote("loop")
    r.run_for(1000)
    for name in ("alternator_port", "system_charge", "system_discharge"):
        assert r.transitions(name) == [(0, 0)]
    r2 = Rig(remote="loop")
    r2.run(1000)
    assert r2.level("alternator_port") == 1 and r2.level("system_discharge") == 1


def test_main_build_takes_a_profile(pin_mock):
    import main
    app = main.build(host_tools.board_path("esp32-devkitc"), profile="smallbms_ng")
    assert len(app.ports) == 4
    assert len(main.build(host_tools.board_path("esp32-devkitc")).ports) == 7
    with pytest.raises(ValueError):
        main.build(host_tools.board_path("esp32-devkitc"), profile="nope")
