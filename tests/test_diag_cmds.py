"""diag for people: every command says what it did, a mistake is a message
(not a traceback) that changes nothing, the history reads in Ah, Wh, °C and
times, and the pre-alarm line shows the logical state, not the blink's phase."""
import diag_cmds  # noqa: F401  (diag calls it with the running BMS)
import pytest
from bmsutil import Rig


@pytest.fixture
def r():
    import diag
    rig = Rig()
    rig.run(2000)
    diag.attach(rig.app)
    yield rig
    diag.attach(None)


def said(capsys):
    return capsys.readouterr().out.splitlines()


def test_get_of_an_unknown_name_answers_like_set(r, capsys):
    import diag
    v = r.s.version
    assert diag.get("cell_uv_trip") is None
    assert said(capsys) == ["no setting 'cell_uv_trip': did you mean cell_uv_trip_v? (diag.get() lists them all)"]
    assert diag.get("warp") is None
    assert said(capsys) == ["no setting 'warp' (diag.get() lists them all)"]
    assert diag.set("warp", 1) is False
    assert said(capsys) == ["not changed: no setting 'warp' (diag.get() lists them all)"]
    assert diag.get("cell_uv_trip_v") == 2.8
    assert said(capsys) == ["cell_uv_trip_v             2.8          (2.6..3.0 V)"]
    assert r.s.version == v and r.app.inbox.pending() == 0


def test_get_marks_a_setting_this_model_lacks():
    import diag
    ng = Rig(profile="smallbms_ng")
    import io
    import sys
    buf, old = io.StringIO(), sys.stdout
    sys.stdout = buf
    try:
        diag.get("fuse_type", ng.app)
    finally:
        sys.stdout = old
    assert buf.getvalue() == "fuse_type                  125A         (125A/100A/80A/60A/2x30A/2x20A/2x15A/2x10A/2x7.5A)" \
                             "  - not on this model\n"


def test_every_change_confirms_what_it_did(r, capsys):
    import diag
    assert diag.set("cell_uv_trip_v", 2.9) is True
    assert said(capsys) == ["cell_uv_trip_v: 2.8 -> 2.9 V (at the next tick; saved to flash within 10 s)"]
    assert diag.set("charge_ot_trip_c", 48) is True
    assert said(capsys) == ["charge_ot_trip_c: 50.0 -> 48 °C (at the next tick; saved to flash within 10 s)"]
    assert diag.set("model", "smallbms_ng") is True
    assert said(capsys) == ["model: board -> smallbms_ng (takes effect after a reset; saved to flash within 10 s)"]
    r.run_for(100)
    assert r.s.get("cell_uv_trip_v") == 2.9 and r.s.get("model") == "smallbms_ng"
    for call, line in (
            (lambda: diag.set_soc(80), "SoC set to 80 % at the next tick"),
            (lambda: diag.synchronise(), "battery monitor synchronised to 100 % at the next tick"),
            (lambda: diag.soft_switch(False), "soft switch off: the alternator and System+ ports open "
                                              "(remote_function ports_only), at the next tick"),
            (lambda: diag.soft_switch(True), "soft switch on, at the next tick"),
            (lambda: diag.reset_alarms(), "alarms reset: latched withdrawals and locked ports released at the next "
                                          "tick, the rules judge the cells afresh"),
            (lambda: diag.accept_bank(), "bank accepted as the 1 batteries answering now, at the next tick"),
            (lambda: diag.clear_history(), "history cleared at the next tick"),
            (lambda: diag.factory_reset(), "every setting back to its default, at the next tick, saved at once")):
        assert call() is True
        assert said(capsys) == [line]
        r.run_for(100)
    assert r.s.get("cell_uv_trip_v") == 2.8 and r.app.inbox.last_error is None


def test_mistakes_change_nothing_and_say_why(r, capsys):
    import diag
    import inbox
    v = r.s.version
    for call, line in (
            (lambda: diag.set("cell_uv_trip_v", 9), "not changed: cell_uv_trip_v must be within 2.6..3.0 V, not 9"),
            (lambda: diag.set("model", "lynx_smart_bms"), "not changed: the Lynx Smart BMS (model 'lynx_smart_bms') "
             "needs outputs contactor, aux_output, alternator_atc, which board file 'ESP32-DevKitC (ESP32-WROOM-32)' "
             "lacks: add them to its \"outputs\", or set another model"),
            (lambda: diag.set_many({"cell_uv_trip_v": 2.9, "pre_alarm_mode": "sometimes"}),
             "not changed: pre_alarm_mode must be one of continuous, intermittent, not 'sometimes'"),
            (lambda: diag.set_many([1, 2]), "not changed: give a dict of setting: value"),
            (lambda: diag.set_soc(101), "not changed: SoC must be a number from 0 to 100, not 101"),
            (lambda: diag.set_soc("80"), "not changed: SoC must be a number from 0 to 100, not '80'"),
            (lambda: diag.soft_switch("off"), "not changed: soft_switch takes True or False, not 'off'")):
        assert call() is False
        assert said(capsys) == [line]
    assert r.s.version == v and r.app.inbox.pending() == 0
    for _ in range(inbox.MAX_PENDING):
        r.app.inbox.post((inbox.CLEAR_HISTORY,))
    assert diag.set("cell_uv_trip_v", 2.9) is False
    assert said(capsys)[0].startswith("not changed: %d commands are waiting" % inbox.MAX_PENDING)


def test_set_many_is_all_or_nothing_and_lists_each_change(r, capsys):
    import diag
    assert diag.set_many({"cell_uv_trip_v": 2.9, "pre_alarm_mode": "intermittent"}) is True
    assert said(capsys) == ["cell_uv_trip_v: 2.8 -> 2.9 V; pre_alarm_mode: continuous -> intermittent "
                            "(at the next tick; saved to flash within 10 s)"]
    r.run_for(100)
    assert r.s.get("pre_alarm_mode") == "intermittent"


def test_history_reads_in_ah_wh_degrees_and_times(r, capsys):
    import diag
    diag.clear_history()
    r.run_for(100)
    capsys.readouterr()
    diag.history()
    fresh = said(capsys)
    assert fresh[0] == "history (since it was last cleared):"
    assert "  last full charge         never" in fresh and "  deepest discharge        0.0 Ah" in fresh
    r.run_for(1000)                                 # the next reading's extremes
    assert diag.history_lines()[9] == "  cell voltage             3.300 .. 3.300 V"      # the Rig's cells
    r.app.history.min_cell_mv = r.app.history.max_cell_mv = None
    assert diag.history_lines()[9] == "  cell voltage             not seen yet"
    h = r.app.history
    h.deepest_discharge_mah, h.drawn_mah, h.discharged_wh, h.charged_wh = -45250, 312000, 4120, 870
    h.since_full_s, h.min_temp_dc, h.max_temp_dc = 3 * 3600 + 12 * 60 + 5, -35, 215
    h.min_cell_mv, h.max_cell_mv = 3300, 3303
    assert diag.history_lines() == [
        "history (since it was last cleared):",
        "  deepest discharge        -45.2 Ah",
        "  drawn in total           312.0 Ah",
        "  discharged energy        4.12 kWh",
        "  charged energy           870 Wh",
        "  synchronisations         0",
        "  charge cycles            0",
        "  last full charge         3 h 12 min ago",
        "  bank voltage             13.20 .. 13.20 V",
        "  cell voltage             3.300 .. 3.303 V",
        "  battery temperature      -3.5 .. 21.5 °C"]
    h.since_full_s = 3 * 86400 + 5 * 3600
    assert diag.history_lines()[7] == "  last full charge         3 days 5 h ago"


def test_the_pre_alarm_line_shows_the_logical_state_not_the_blinks_phase(capsys):
    import diag
    r = Rig(pre_alarm_mode="intermittent", pre_alarm_blink_s=1)
    r.run(2000)
    r.set_cells(3300, 3000, 3300, 3300)             # below the 3.10 V pre-alarm
    r.until(lambda st: st.pre_alarm, 10000)
    lines, phases = set(), set()
    for _ in range(30):                             # three blink periods, every tick
        r.run_for(100)
        lines.add(diag.pre_alarm_line(r.app))
        phases.add(r.st.pre_alarm_out)
    assert phases == {True, False}                  # the output blinks ...
    assert lines == {"  pre-alarm                ON   blinking 1 s on / 1 s off (W-B01)"}   # ... the line does not
    assert "  pre-alarm                ON   blinking 1 s on / 1 s off (W-B01)" in diag.output_lines(r.app)
    diag.status(r.app)
    assert "  pre-alarm                ON   blinking 1 s on / 1 s off (W-B01)" in said(capsys)
    plain = Rig(profile="bms_12_200")
    plain.run(2000)
    assert diag.pre_alarm_line(plain.app) == "  pre-alarm                off  no pre-alarm output on this model "
