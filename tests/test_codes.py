"""firmware/codes.py (the diagnosis table) and the generated docs that come from
the tables."""
import os
import re

import pytest

import host_tools
from host_tools import docgen

host_tools.use_firmware()
import codes as C  # noqa: E402
import settings as S  # noqa: E402

DETECTORS = dict((name, getattr(C, name)) for name in dir(C) if name.startswith("D_"))
VALUE_DETECTORS = {C.D_CELL_LOW, C.D_CELL_HIGH, C.D_TEMP_HIGH, C.D_TEMP_LOW, C.D_BANK_LOW, C.D_SOC_LOW,
                   C.D_BMS_TEMP}
HARD_DETECTORS = {C.D_CELL_LOW, C.D_CELL_HIGH, C.D_TEMP_HIGH, C.D_TEMP_LOW, C.D_BMS_TEMP}


def test_table_shape():
    assert len(C.TABLE) == C.N_CODES
    seen = set()
    for cid, row in enumerate(C.TABLE):
        assert len(row) == 13, row[0]
        text, sev, wd, flags, det, trip, reset, delay, hard, clear, meaning, source, readout = row
        assert readout in C.READOUT_REASONS, text
        if sev == C.SEVERITY_ERROR:
            assert readout == 0 and C.error_number(cid) == int(text[3:]), text
        assert re.fullmatch(r"[WAE]-[AB]\d\d", text)
        assert text not in seen
        seen.add(text)
        assert C.code_id(text) == cid and C.text(cid) == text
        assert sev == {"W": C.SEVERITY_WARNING, "A": C.SEVERITY_ALARM, "E": C.SEVERITY_ERROR}[text[0]]
        assert meaning and source
        assert wd & ~C.ALL == 0 and flags & ~(C.F_PRE_ALARM | C.F_LEAD | C.F_RECHARGE | C.F_PER_PORT) == 0
        assert det in DETECTORS.values()
        if sev == C.SEVERITY_WARNING:
            assert wd == 0, "a warning withdraws nothing: " + text


@pytest.mark.parametrize("cid", range(C.N_CODES), ids=[row[0] for row in C.TABLE])
def test_every_setting_a_row_names_exists_with_the_right_unit(cid):
    text, sev, wd, flags, det, trip, reset, delay, hard, clear = C.TABLE[cid][:10]
    unit = {C.D_CELL_LOW: "V", C.D_CELL_HIGH: "V", C.D_BANK_LOW: "V", C.D_TEMP_HIGH: "degC",
            C.D_TEMP_LOW: "degC", C.D_SOC_LOW: "%", C.D_BMS_TEMP: "degC"}.get(det)
    for name in (trip, reset, hard):
        if name is not None:
            assert S.schema_row(name)[1] == unit, (text, name)
    if delay is not None:
        assert S.schema_row(delay)[1] == "s"
    if clear is not None:
        assert clear == "delay" and delay is not None or S.schema_row(clear)[1] == "s", text
    if det in VALUE_DETECTORS:
        assert trip and reset, text
    if hard is not None:
        assert det in HARD_DETECTORS, text
    if det == C.D_NONE:
        assert (trip, reset, delay, hard, clear, flags) == (None, None, None, None, None, 0), text


def test_row_flags_make_sense():
    for cid in range(C.N_CODES):
        f = C.flags(cid)
        if f & C.F_LEAD:      # the lead protects the loads: only for codes that disconnect them
            assert C.withdraws(cid) & C.ATD, C.text(cid)
        if f & C.F_RECHARGE:  # a latch until recharge: only for discharge withdrawals
            assert C.withdraws(cid) == C.DISCHARGE, C.text(cid)
        if f & C.F_PER_PORT:  # the port that tripped, decided per port: no fixed set besides
            assert C.withdraws(cid) == 0 and C.detector(cid) == C.D_PORT_TRIP, C.text(cid)


def test_port_bits_and_masks():
    assert C.N_PORTS == len(C.PORT_NAMES) == 5
    assert [C.ATC, C.ATD, C.ALT, C.SYS_CHG, C.SYS_DIS] == [1 << p for p in (
        C.PORT_ATC, C.PORT_ATD, C.PORT_ALT, C.PORT_SYS_CHG, C.PORT_SYS_DIS)]
    assert C.CHARGE == C.ATC | C.ALT | C.SYS_CHG
    assert C.DISCHARGE == C.ATD | C.SYS_DIS
    assert C.ALL == C.CHARGE | C.DISCHARGE == (1 << C.N_PORTS) - 1 and not C.CHARGE & C.DISCHARGE
    assert C.POWER == C.ALT | C.SYS_CHG | C.SYS_DIS and not C.POWER & (C.ATC | C.ATD)


def test_reason_bits_sit_above_the_code_bits_and_stay_small_ints():
    assert C.BIT_STARTUP == 1 << C.N_CODES and C.BIT_REMOTE_OFF == 1 << (C.N_CODES + 1)
    assert C.N_CODES + 2 <= 30        # a reason mask is a small int on a 32-bit port


def test_behaviour_table_effects():
    # behaviour §1, §5, §7: what each code withdraws
    assert C.withdraws(C.A_B01) == C.DISCHARGE
    assert C.withdraws(C.A_B07) == C.DISCHARGE
    assert C.withdraws(C.A_B08) == C.DISCHARGE
    assert C.withdraws(C.A_B02) == C.CHARGE
    assert C.withdraws(C.A_B09) == C.CHARGE
    assert C.withdraws(C.A_B10) == C.CHARGE
    assert C.withdraws(C.A_B05) == C.ALL
    for code in ("E-B01", "E-B05", "E-B09", "E-B11", "E-B32"):
        assert C.withdraws(C.code_id(code)) == C.ALL, code
    assert C.withdraws(C.E_B31) == 0
    # behaviour §3, §4: A-B15 opens the power ports (not ATC / ATD); A-A12 only the port that tripped
    assert C.withdraws(C.A_B15) == C.POWER and C.detector(C.A_B15) == C.D_BMS_TEMP
    assert C.withdraws(C.A_A12) == 0 and C.flags(C.A_A12) == C.F_PER_PORT
    assert C.detector(C.A_A12) == C.D_PORT_TRIP
    pre = [C.text(c) for c in range(C.N_CODES) if C.drives_pre_alarm(c)]
    assert {"W-B01", "A-B01", "W-B05", "A-B05", "W-B07", "E-B11"} <= set(pre)
    assert C.flags(C.A_B01) & C.F_LEAD and C.flags(C.A_B01) & C.F_RECHARGE
    assert C.detector(C.E_B11) == C.D_BATTERY_FAULT


def test_accessors_and_unknown_codes():
    cid = C.code_id("A-B09")
    assert C.severity(cid) == C.SEVERITY_ALARM and C.meaning(cid) == "high battery temperature"
    assert C.SEVERITY_NAMES[C.severity(C.E_B32)] == "error"
    with pytest.raises(KeyError):
        C.code_id("A-B99")


def test_reason_names_order():
    mask = C.BIT_REMOTE_OFF | (1 << C.E_B32) | (1 << C.W_B01) | C.BIT_STARTUP
    assert C.reason_names(mask) == [C.REASON_STARTUP, "W-B01", "E-B32", C.REASON_REMOTE_OFF]
    assert C.reason_names(0) == []


def test_generated_docs_are_current():
    for name, fn in docgen.OUTPUTS.items():
        path = os.path.join(host_tools.ROOT, "docs", name)
        assert open(path).read() == fn(), "docs/%s is stale: run python -m host_tools.docgen" % name


def test_codes_doc_has_one_full_row_per_code():
    rows = [line for line in docgen.codes_md().splitlines() if re.match(r"\| [WAE]-[AB]\d\d \|", line)]
    assert len(rows) == C.N_CODES
    for cid, line in enumerate(rows):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == 15 and cells[0] == C.text(cid)
        want = "the port that tripped" if C.flags(cid) & C.F_PER_PORT else docgen.ports_text(C.withdraws(cid))
        assert cells[2] == want
    a_b01 = [c.strip() for c in rows[C.A_B01].strip("|").split("|")]
    assert a_b01[2:6] == ["discharging (ATD, System+ discharge)", "on", "yes", "yes"]
    assert a_b01[7:12] == ["`cell_uv_trip_v` 2.8 V", "`cell_uv_reset_v` 3.2 V", "`cell_uv_delay_s` 5 s",
                           "`cell_uv_hard_v` 2.5 V", "its delay"]


def test_port_mask_words():
    assert docgen.ports_text(0) == "nothing"
    assert docgen.ports_text(C.CHARGE) == "charging (ATC, alternator, System+ charge)"
    assert docgen.ports_text(C.DISCHARGE) == "discharging (ATD, System+ discharge)"
    assert docgen.ports_text(C.ALL) == "everything (ATC, ATD, alternator, System+ charge, System+ discharge)"
    assert docgen.ports_text(C.ATC | C.ATD) == "ATC, ATD"


def test_every_detector_has_a_description():
    texts = docgen.detector_texts()
    assert set(texts) == set(DETECTORS.values())
    assert all(texts.values())


def test_settings_doc_lists_every_setting():
    doc = docgen.settings_md()
    for row in S.SCHEMA:
        assert "| `%s` |" % row[0] in doc


def test_w_b05_and_a_b05_watch_one_link_state():
    """One link-health state for both rows (they differ in delay and lead); W-B01
    clears after pre_alarm_hold_s, not its trip delay."""
    w, a = C.code_id("W-B05"), C.code_id("A-B05")
    assert C.detector(w) == C.detector(a) == C.D_LINK
    assert not hasattr(C, "D_LINK_WARN") and not hasattr(C, "D_LINK_ALARM")
    assert C.TABLE[C.code_id("W-B01")][9] == "pre_alarm_hold_s"
    assert C.TABLE[a][7] == "link_lost_alarm_s" and C.TABLE[w][7] is None
