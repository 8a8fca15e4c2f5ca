"""firmware/models.py: the model family as profiles (behaviour §12), selected by
the ``model`` setting, checked against the board file, and what each changes."""
import copy
import json

import pytest

import host_tools
from bmsutil import Battery, Rig, codes

host_tools.use_firmware()
import board as BD  # noqa: E402
import codes as C  # noqa: E402
import indicators as L  # noqa: E402
import models as M  # noqa: E402
from settings import Settings, SettingsError  # noqa: E402


def _board(name):
    with open(host_tools.board_path(name)) as f:
        return BD.validate(json.load(f))


@pytest.mark.parametrize("name", M.NAMES)
def test_every_profile_is_sound(name):
    p = M.profile(name)
    assert len(p) == 7 and isinstance(p[0], str) and p[0] == M.title(name)
    outs = M.outputs(name)
    names = [o[0] for o in outs]
    assert len(set(names)) == len(names) and set(names) <= set(BD.OUTPUT_NAMES)
    assert all(len(o) == 4 and isinstance(o[3], int) and o[3] >= 0 for o in outs)
    kinds = [o[1] for o in outs]
    assert kinds.count(M.KIND_PRE_ALARM) <= 1 and kinds.count(M.KIND_ALTERNATOR) <= 1
    assert all(o[2] in (C.PORT_ATC, C.PORT_ATD) for o in outs if o[1] == M.KIND_PORT)
    leds = [o[2] for o in outs if o[1] == M.KIND_LED]
    assert len(set(leds)) == len(leds) and all(0 <= b < len(L.LED_NAMES) for b in leds)
    assert ("status_led", M.KIND_LED, L.LED_ERROR, 0) in outs       # every model shows its codes
    assert all(o[0] == "status_led" or o[0].startswith("led_") for o in outs if o[1] == M.KIND_LED)
    assert all(o[0].startswith("system_") for o in outs if o[1] == M.KIND_SYSTEM)
    gates = [o[2] for o in outs if o[1] == M.KIND_SYSTEM]
    assert len(set(gates)) == len(gates) and len(gates) in (0, 3)
    assert M.leds(name) == sum(1 << b for b in leds)
    assert M.has_kind(name, M.KIND_ALTERNATOR) == (M.KIND_ALTERNATOR in kinds) == (p[6] > 0)
    assert M.has_kind(name, M.KIND_SYSTEM) == bool(gates)
    assert p[3] in (12, 48) and 1 <= p[5] <= p[4] <= 50
    assert M.has_feature(name, M.FEAT_BLUETOOTH) == ("led_bluetooth" in names)


def test_the_names_are_the_profiles_and_the_model_settings_choices():
    assert sorted(M.NAMES) == sorted(M.PROFILES) and M.DEFAULT == M.NAMES[0] == "smart_bms_12_200"
    import settings
    row = settings.schema_row("model")
    assert row[2] == "board" and row[3] == ("board",) + M.NAMES


# behaviour §12's table, column by column: terminal ratings (mA), the ports, the
# system voltage, Bluetooth, remote on/off; §6: the battery limits.
SPEC = {
    "smart_bms_12_200": dict(load=10, charge=10, pre=1000, alt_a=100, system=True, max_v=12, bt=True,
                             remote=True, batteries=(5, 5)),
    "smart_bms_cl_12_100": dict(load=10, charge=10, pre=1000, alt_a=100, system=False, max_v=12, bt=True,
                                remote=True, batteries=(5, 5)),
    "bms_12_200": dict(load=None, charge=None, pre=None, alt_a=80, system=True, max_v=12, bt=False,
                       remote=True, batteries=(5, 5)),
    "smallbms_ng": dict(load=1000, charge=500, pre=500, alt_a=0, system=False, max_v=48, bt=True,
                        remote=True, batteries=(50, 25)),
    "smallbms": dict(load=1000, charge=10, pre=1000, alt_a=0, system=False, max_v=48, bt=False,
                     remote=True, batteries=(20, 20)),
    "lynx_smart_bms": dict(load=500, charge=500, pre=2000, alt_a=0, system=False, max_v=48, bt=True,
                           remote=True, batteries=(20, 20), contactor=0, aux=1100, alternator_atc=500),
    "vebus_bms": dict(load=2000, charge=10, pre=1000, alt_a=0, system=False, max_v=48, bt=False,
                      remote=False, batteries=(20, 20)),
    "vebus_bms_v2": dict(load=1000, charge=10, pre=1000, alt_a=0, system=False, max_v=48, bt=False,
                         remote=True, batteries=(20, 20), aux=1000),
}


@pytest.mark.parametrize("name", M.NAMES)
def test_each_profile_states_what_behaviour_12_says(name):
    want = SPEC[name]
    rating = dict((o[0], o[3]) for o in M.outputs(name))
    for key, out in (("load", "load_disconnect"), ("charge", "charge_disconnect"), ("pre", "pre_alarm"),
                     ("contactor", "contactor"), ("aux", "aux_output"), ("alternator_atc", "alternator_atc")):
        assert rating.get(out) == want.get(key), out
    p = M.profile(name)
    assert p[6] == want["alt_a"] and M.has_kind(name, M.KIND_SYSTEM) == want["system"]
    assert p[3] == want["max_v"] and (p[4], p[5]) == want["batteries"]
    assert M.has_feature(name, M.FEAT_BLUETOOTH) == want["bt"]
    assert M.has_feature(name, M.FEAT_REMOTE) == want["remote"]
    assert M.has_feature(name, M.FEAT_MONITOR) == (name in ("smallbms_ng", "lynx_smart_bms"))


def test_an_unknown_profile_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model profile 'lynx' \\(known: smart_bms_12_200, "
                                         "smart_bms_cl_12_100, bms_12_200, smallbms_ng"):
        M.outputs("lynx")


def test_the_board_files_name_their_model_and_have_its_pins():
    for name in ("esp32-devkitc", "esp32-devkitc-shunt", "esp32-s3-devkitc-1", "esp32-c3-devkitm-1",
                 "esp32-devkitc-lynx"):
        b = _board(name)
        model = M.resolve("board", b)
        M.check_board(model, b)
    assert M.resolve("board", _board("esp32-c3-devkitm-1")) == "smallbms_ng"
    assert M.resolve("board", _board("esp32-devkitc-lynx")) == "lynx_smart_bms"
    b = _board("esp32-devkitc")
    del b["model"]
    assert M.resolve("board", b) == M.DEFAULT
    assert M.resolve("vebus_bms", b) == "vebus_bms"


def test_a_board_missing_a_pin_the_model_needs_is_refused_with_the_fix():
    with pytest.raises(BD.BoardError) as e:
        M.check_board("lynx_smart_bms", _board("esp32-devkitc"))
    assert str(e.value) == ("the Lynx Smart BMS (model 'lynx_smart_bms') needs outputs contactor, aux_output, "
                            "alternator_atc, which board file 'ESP32-DevKitC (ESP32-WROOM-32)' lacks: add them "
                            "to its \"outputs\", or set another model")
    with pytest.raises(BD.BoardError, match="needs outputs alternator_port, system_charge, system_discharge, "
                                            "system_precharge, which board file 'ESP32-C3-DevKitM-1' lacks"):
        M.check_board("smart_bms_12_200", _board("esp32-c3-devkitm-1"))
    b = _board("esp32-devkitc")
    del b["outputs"]["pre_alarm"]
    with pytest.raises(BD.BoardError, match="needs output pre_alarm, which .* lacks: add it"):
        M.check_board("smallbms_ng", b)
    M.check_board("bms_12_200", b)                  # the BMS 12/200 has no pre-alarm
    # Indicators are optional: the DevKitC has three of the seven.
    M.check_board("smart_bms_12_200", _board("esp32-devkitc"))


def test_the_firmware_refuses_to_start_on_a_board_without_the_models_pins(pin_mock):
    import main
    b = _board("esp32-devkitc")
    b["model"] = "lynx_smart_bms"
    with pytest.raises(BD.BoardError, match="needs outputs contactor, aux_output, alternator_atc"):
        main.build(b)
    assert all(pin_mock.level(o["pin"]) is None for o in b["outputs"].values())   # no pin was touched
    pin_mock.install("esp32c3")
    s = Settings()
    s.set("model", "smart_bms_12_200")
    with pytest.raises(BD.BoardError, match="alternator_port, system_charge"):
        main.build(_board("esp32-c3-devkitm-1"), s)
    pin_mock.install("esp32")
    with pytest.raises(ValueError, match="unknown model profile 'nope'"):
        main.build(host_tools.board_path("esp32-devkitc"), profile="nope")


def test_main_build_takes_the_model_from_the_setting_or_the_board(pin_mock):
    import main
    assert main.build(host_tools.board_path("esp32-devkitc")).profile == "smart_bms_12_200"
    assert len(main.build(host_tools.board_path("esp32-devkitc")).ports) == 15
    s = Settings()
    s.set("model", "smallbms_ng")
    app = main.build(host_tools.board_path("esp32-devkitc"), s)
    assert app.profile == "smallbms_ng" and len(app.ports) == 5
    pin_mock.install("esp32c3")
    assert main.build(host_tools.board_path("esp32-c3-devkitm-1")).profile == "smallbms_ng"
    pin_mock.install("esp32")
    app = main.build(host_tools.board_path("esp32-devkitc-lynx"))
    assert app.profile == "lynx_smart_bms" and app.alternator is None and app.system is None


def test_main_build_gives_bluetooth_only_to_a_model_that_has_it(pin_mock):
    import main
    from host_tools import ble_mock
    ble_mock.reset()
    urandom = lambda n: bytes(n)  # noqa: E731
    assert main.build(host_tools.board_path("esp32-devkitc"), bt=ble_mock, urandom=urandom).radio is not None
    s = Settings()
    s.set("model", "bms_12_200")
    assert main.build(host_tools.board_path("esp32-devkitc"), s, bt=ble_mock, urandom=urandom).radio is None


def test_a_setting_the_model_does_not_have_is_refused_and_nothing_changes():
    r = Rig(profile="smallbms_ng")
    v = r.s.version
    with pytest.raises(SettingsError) as e:
        r.s.set("fuse_type", "80A")
    assert str(e.value) == "fuse_type does not apply to the smallBMS NG (no alternator port)"
    with pytest.raises(SettingsError, match="system_retries does not apply to the smallBMS NG \\(no System\\+ port\\)"):
        r.s.update({"cell_uv_trip_v": 2.9, "system_retries": 5})
    assert r.s.get("cell_uv_trip_v") == 2.8 and r.s.version == v
    r.s.update({"fuse_type": "125A", "cell_uv_trip_v": 2.9})     # its value unchanged: an import of every setting
    assert r.s.get("cell_uv_trip_v") == 2.9
    assert M.setting_applies("bms_12_200", "pre_alarm_mode") == \
        "pre_alarm_mode does not apply to the BMS 12/200 (no pre-alarm output)"
    assert M.setting_applies("vebus_bms", "remote_function").endswith("(no remote on/off input)")
    assert M.setting_applies("bms_12_200", "bluetooth").endswith("(no Bluetooth)")
    assert M.setting_applies("smart_bms_cl_12_100", "bms_temp_max_c") is None
    assert M.setting_applies("smart_bms_cl_12_100", "system_retries").endswith("(no System+ port)")
    for name in M.NAMES:
        assert M.setting_applies(name, "cell_uv_trip_v") is None
    r2 = Rig()
    r2.s.set("fuse_type", "80A")
    assert r2.s.get("fuse_type") == "80A"


def test_the_model_setting_is_checked_against_the_board():
    r = Rig()
    with pytest.raises(SettingsError, match="the Lynx Smart BMS \\(model 'lynx_smart_bms'\\) needs outputs contactor"):
        r.s.set("model", "lynx_smart_bms")
    assert r.s.get("model") == "board"
    r.s.set("model", "smallbms_ng")                 # fits the DevKitC; takes effect at the next start
    assert r.s.get("model") == "smallbms_ng" and r.app.profile == "smart_bms_12_200"
    lynx = Rig(board="esp32-devkitc-lynx", profile="lynx_smart_bms")
    lynx.s.set("model", "vebus_bms_v2")
    with pytest.raises(SettingsError, match="needs outputs alternator_port"):
        lynx.s.set("model", "smart_bms_12_200")


def test_the_lynx_contactor_opens_only_when_charging_and_discharging_are_both_withdrawn():
    r = Rig(board="esp32-devkitc-lynx", profile="lynx_smart_bms", remote="loop")
    r.run(3000)
    assert r.st.atc and r.st.atd
    for out in ("contactor", "aux_output", "alternator_atc", "load_disconnect", "charge_disconnect"):
        assert r.level(out) == 1, out
    r.set_cells(3300, 2500, 3300, 3300)             # a cell under the hard limit: ATD goes, ATC stays
    t = r.until(lambda st: not st.atd, 60000)
    assert t is not None and r.st.atc
    assert r.level("load_disconnect") == 0 and r.level("contactor") == 1 and r.level("aux_output") == 1
    r.answer = False                                # the link is lost: A-B05 withdraws everything
    t = r.until(lambda st: not st.atc, 60000)
    assert t is not None and "A-B05" in codes(r.st)
    assert r.level("contactor") == 0 and r.level("aux_output") == 0 and r.level("alternator_atc") == 0
    on = [w for w, lvl in r.transitions("contactor") if lvl == 1]
    off = [w for w, lvl in r.transitions("contactor") if lvl == 0 and w > on[0]]
    assert len(on) == 1 and len(off) == 1           # one close, one open: no chatter


def test_the_bms_12_200_caps_its_alternator_port_at_80_a():
    r = Rig(profile="bms_12_200", remote="loop")
    r.set_power(alternator_v=14.4)
    r.run(3000)
    alt = r.app.alternator
    assert alt.fuse_limit_ma == 80000 and alt.limit_ma == 80000
    import alternator as A
    assert A.LIMIT_NAMES[alt.limit_why] == "port rating"
    r.s.set("fuse_type", "80A")                     # the fuse's row (60 A) is below the rating
    r.run_for(500)
    assert alt.fuse_limit_ma == 60000 and A.LIMIT_NAMES[alt.limit_why] == "fuse"
    full = Rig(remote="loop")
    full.set_power(alternator_v=14.4)
    full.run(3000)
    assert full.app.alternator.fuse_limit_ma == 100000


def test_more_batteries_than_the_model_takes_is_an_invalid_configuration():
    six = Rig(batteries=6)                          # the 12/200 takes 5 in parallel
    six.run(5000)
    assert "E-B01" in codes(six.st) and not six.st.atc and not six.st.atd
    five = Rig(batteries=5)
    five.run(5000)
    assert codes(five.st) == [] and five.st.atc and five.st.atd
    ng = Rig(batteries=6, profile="smallbms_ng")
    ng.run(5000)
    assert codes(ng.st) == []


def test_a_48_v_bank_on_the_ng_takes_25_batteries_and_a_12_v_only_model_none():
    def bank(strings):
        return [Battery(cells=(3300,) * 16, serial="S%d" % i) for i in range(strings)]
    ok = Rig(batteries=bank(25), profile="smallbms_ng")
    ok.run(5000)
    assert codes(ok.st) == [] and ok.st.bank.system_v == 48
    over = Rig(batteries=bank(26), profile="smallbms_ng")
    over.run(5000)
    assert codes(over.st) == ["E-B01"]
    cl = Rig(batteries=bank(1), profile="smart_bms_cl_12_100")
    cl.run(5000)
    assert codes(cl.st) == ["E-B09"] and not cl.st.atc and not cl.st.atd


def test_a_model_without_remote_on_off_ignores_the_terminals():
    r = Rig(profile="vebus_bms", remote="open")
    r.run(3000)
    assert r.st.remote_on and r.st.atd and r.st.atc
    r.app.inbox.post((__import__("inbox").SOFT_SWITCH, False))      # the soft switch still works
    r.run_for(500)
    assert not r.st.remote_on
    plain = Rig(remote="open")
    plain.run(3000)
    assert not plain.st.remote_on


def test_a_model_without_power_ports_raises_no_power_port_codes():
    r = Rig(profile="smallbms_ng", remote="loop")
    r.set_power(bms_temp=120.0)                     # the board's BMS sensor reads hot: not this model's
    r.run(5000)
    assert codes(r.st) == [] and r.st.atc and r.st.atd
    assert not M.code_applies("smallbms_ng", "A-B15") and M.code_applies("smallbms_ng", "A-B01")
    hot = Rig(remote="loop")
    hot.set_power(bms_temp=120.0)
    hot.run(5000)
    assert "A-B15" in codes(hot.st)


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


def test_profiles_are_plain_data_a_copy_of_which_changes_nothing():
    before = copy.deepcopy(M.PROFILES)
    for name in M.NAMES:
        M.leds(name)
        M.outputs(name)
    assert M.PROFILES == before


def test_the_readmes_wiring_table_matches_the_devkitc_board_file():
    import re
    text = open(host_tools.ROOT + "/README.md").read()
    section = text[text.index("## Wiring at a glance"):text.index("## One firmware, the whole family")]
    b = _board("esp32-devkitc")
    pins = set(o["pin"] for o in b["outputs"].values()) | set(i["adc_pin"] for i in b["inputs"].values())
    pins |= set(a["adc_pin"] for a in b["analog"].values()) | {b["short_circuit"]["pin"]}
    pins |= {b["link_uart"]["tx"], b["link_uart"]["rx"]}
    named = set()
    for row in section.splitlines():
        if row.startswith("| GPIO"):
            pins_text = re.match(r"GPIO ([\d /]+)", row.split("|")[1].strip()).group(1)
            named |= set(int(n) for n in pins_text.split("/") if n.strip())
    assert named == pins, "README's wiring table is stale: %s" % sorted(named ^ pins)
