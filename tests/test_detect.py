"""firmware/detect.py: each row's detector state from the tick's facts, and the
integer thresholds it converts from the settings."""
import pytest

import host_tools
from bankutil import cells, make_bank, temps

host_tools.use_firmware()
import bank as B  # noqa: E402
import codes as C  # noqa: E402
import detect as D  # noqa: E402
from detect import Detectors, Observation, is_data_row  # noqa: E402
from ntc import SENSOR_OPEN, SENSOR_SHORT  # noqa: E402
from qualifier import BAND, CLEAR, HARD, HOLD, TRIP  # noqa: E402
from settings import Settings  # noqa: E402

NO_LIMIT = D._NO_LIMIT


def det(**overrides):
    s = Settings()
    if overrides:
        s.update(overrides)
    return Detectors(s)


def obs(bank=None, **kw):
    o = Observation()
    o.bank = bank
    o.fresh = bank is not None
    o.complete = bank is not None
    for k, v in kw.items():
        setattr(o, k, v)
    return o


def evaluate(d, cid, o, active=None):
    return d.evaluate(cid, o, active or bytearray(C.N_CODES))


def test_observation_starts_empty():
    o = Observation()
    assert o.bank is None and not o.fresh and not o.stale and not o.complete and not o.at_once
    assert o.link_state == CLEAR and not o.no_battery and o.soc_pct10 == -1
    assert o.current_ma == 0 and not o.current_known and not o.config_bad and not o.implausible
    assert not o.at_once_new and o.capacity_ah == 0


def test_new_judges_the_cell_and_temperature_rows_on_the_new_batteries_only():
    """``new=True``: the extremes of the batteries the previous reading lacked
    (``bank.sel_*``), not the bank's."""
    d = det()
    b = make_bank(n=2)
    b.cell_mv[1] = 2700                           # battery 0: a low cell (known, watched)
    b.cell_mv[B.MAX_CELLS + 2] = 3800             # battery 1 (new): a high cell, a hot sensor
    b.temp_dc[B.MAX_TEMPS] = 520
    b.compute_aggregates()
    b.extremes_of(bytearray([0, 1]))
    o = obs(b, at_once_new=True)
    assert evaluate(d, C.A_B01, o) == TRIP and d.evaluate(C.A_B01, o, bytearray(C.N_CODES), True) == CLEAR
    assert evaluate(d, C.W_B01, o) == TRIP and d.evaluate(C.W_B01, o, bytearray(C.N_CODES), True) == CLEAR
    assert d.evaluate(C.A_B02, o, bytearray(C.N_CODES), True) == TRIP
    assert d.evaluate(C.A_B09, o, bytearray(C.N_CODES), True) == TRIP
    b.extremes_of(bytearray([1, 0]))
    assert d.evaluate(C.A_B01, o, bytearray(C.N_CODES), True) == TRIP
    assert d.evaluate(C.A_B02, o, bytearray(C.N_CODES), True) == CLEAR
    assert d.evaluate(C.A_B09, o, bytearray(C.N_CODES), True) == CLEAR


@pytest.mark.parametrize("code,trip,reset,hard,delay,clear", [
    (C.W_B01, 3100, 3200, 2500, 1000, 60000),     # clears after pre_alarm_hold_s, not its delay
    (C.A_B01, 2800, 3200, 2500, 5000, 5000),
    (C.A_B02, 3750, 3550, 3900, 1000, 1000),
    (C.A_B08, 2750, 3200, NO_LIMIT, 10000, 10000),
    (C.A_B09, 500, 450, 550, 5000, 5000),
    (C.A_B10, 50, 60, 0, 5000, 5000),
    (C.W_B07, 200, 250, NO_LIMIT, 0, 0),
    (C.A_B07, 100, 150, NO_LIMIT, 0, 0),
    (C.A_B05, 0, 0, NO_LIMIT, 30000, 0),
    (C.W_B05, 0, 0, NO_LIMIT, 0, 30000),
    (C.E_B01, 0, 0, NO_LIMIT, 2000, 0),
    (C.E_B05, 0, 0, NO_LIMIT, 2000, 0),
    (C.E_B09, 0, 0, NO_LIMIT, 2000, 0),
    (C.E_B11, 0, 0, NO_LIMIT, 0, 5000),
])
def test_thresholds_are_the_rows_settings_as_integers(code, trip, reset, hard, delay, clear):
    d = det()
    got = (d.trip[code], d.reset[code], d.hard[code], d.delay_ms[code], d.clear_ms[code])
    assert got == (trip, reset, hard, delay, clear)
    for arr in (d.trip, d.reset, d.hard, d.delay_ms, d.clear_ms):
        assert all(type(v) is int for v in arr)


def test_load_follows_a_settings_change():
    d = det()
    assert d.version == d.settings.version
    d.settings.update({"cell_uv_trip_v": 2.7, "cell_uv_delay_s": 9, "charge_ut_hard_c": -2.5,
                       "low_soc_warning_pct": 30.0, "soc_reset_margin_pct": 2.5})
    assert d.version != d.settings.version
    d.load()
    assert (d.trip[C.A_B01], d.delay_ms[C.A_B01], d.clear_ms[C.A_B01]) == (2700, 9000, 9000)
    assert d.hard[C.A_B10] == -25
    assert (d.trip[C.W_B07], d.reset[C.W_B07]) == (300, 325)
    assert d.version == d.settings.version


@pytest.mark.parametrize("mv,w_b01,a_b01", [
    (3300, CLEAR, CLEAR),
    (3200, CLEAR, CLEAR),       # resets are inclusive
    (3199, BAND, BAND),
    (3100, BAND, BAND),         # trips are strict: at the trip value is not below it
    (3099, TRIP, BAND),
    (2800, TRIP, BAND),
    (2799, TRIP, TRIP),
    (2500, TRIP, TRIP),
    (2499, HARD, HARD),         # the hard limit: one reading decides
])
def test_lowest_cell_against_pre_alarm_and_under_voltage(mv, w_b01, a_b01):
    d = det()
    o = obs(cells(mv))
    assert (evaluate(d, C.W_B01, o), evaluate(d, C.A_B01, o)) == (w_b01, a_b01)


@pytest.mark.parametrize("mv,state", [(3550, CLEAR), (3551, BAND), (3750, BAND), (3751, TRIP),
                                      (3900, TRIP), (3901, HARD)])
def test_highest_cell_against_over_voltage(mv, state):
    assert evaluate(det(), C.A_B02, obs(cells(mv))) == state


@pytest.mark.parametrize("dc,a_b09,a_b10", [
    (200, CLEAR, CLEAR),
    (450, CLEAR, CLEAR), (451, BAND, CLEAR), (500, BAND, CLEAR), (501, TRIP, CLEAR),
    (550, TRIP, CLEAR), (551, HARD, CLEAR),
    (60, CLEAR, CLEAR), (59, CLEAR, BAND), (50, CLEAR, BAND), (49, CLEAR, TRIP),
    (0, CLEAR, TRIP), (-1, CLEAR, HARD),
])
def test_temperatures_against_the_charge_limits(dc, a_b09, a_b10):
    d = det()
    o = obs(make_bank(temps_dc=(dc, 200) if dc < 200 else (200, dc)))
    assert (evaluate(d, C.A_B09, o), evaluate(d, C.A_B10, o)) == (a_b09, a_b10)


def test_each_temperature_rule_watches_its_own_extreme():
    d = det()
    o = obs(make_bank(temps_dc=(-10, 560)))        # one sensor frozen, one hot
    assert evaluate(d, C.A_B09, o) == HARD and evaluate(d, C.A_B10, o) == HARD


def test_low_bank_voltage_watches_the_mean_cell_of_the_batteries_that_answered():
    d = det()
    assert evaluate(d, C.A_B08, obs(make_bank(cells_mv=(2750,) * 4))) == BAND
    assert evaluate(d, C.A_B08, obs(make_bank(cells_mv=(2749,) * 4))) == TRIP
    assert evaluate(d, C.A_B08, obs(make_bank(cells_mv=(3200,) * 4))) == CLEAR
    # 4S with the third battery missing: the mean of the three that answered
    partial = make_bank(n=3, spos=[1, 2, 4])
    assert partial.cell_avg_mv == 3300
    assert evaluate(d, C.A_B08, obs(partial, complete=False)) == CLEAR
    assert evaluate(d, C.A_B08, obs(make_bank(cells_mv=(1000,) * 4))) == TRIP   # no hard limit


@pytest.mark.parametrize("cid", [C.W_B01, C.A_B01, C.A_B02, C.A_B08, C.A_B09, C.A_B10, C.E_B11,
                                 C.E_B01, C.E_B05, C.E_B09])
def test_data_rows_hold_without_a_reading(cid):
    assert evaluate(det(), cid, obs(None)) == HOLD


@pytest.mark.parametrize("cid", [cid for cid in range(C.N_CODES) if C.detector(cid) == C.D_NONE])
def test_reserved_codes_are_never_detected(cid):
    assert evaluate(det(), cid, obs(cells(2000), no_battery=True, config_bad=True)) == CLEAR


@pytest.mark.parametrize("soc,w_b07,a_b07", [
    (-1, CLEAR, CLEAR),           # unknown SoC raises no SoC code
    (1000, CLEAR, CLEAR), (250, CLEAR, CLEAR), (249, BAND, CLEAR), (201, BAND, CLEAR),
    (200, TRIP, CLEAR), (150, TRIP, CLEAR), (149, TRIP, BAND), (101, TRIP, BAND),
    (100, TRIP, TRIP), (0, TRIP, TRIP),
])
def test_state_of_charge_levels(soc, w_b07, a_b07):
    d = det()
    o = obs(cells(3300), soc_pct10=soc)
    assert (evaluate(d, C.W_B07, o), evaluate(d, C.A_B07, o)) == (w_b07, a_b07)


def test_a_soc_level_of_zero_disables_its_rule():
    d = det(discharge_limit_pct=0.0, low_soc_warning_pct=0.0)
    o = obs(cells(3300), soc_pct10=0)
    assert evaluate(d, C.W_B07, o) == CLEAR and evaluate(d, C.A_B07, o) == CLEAR


@pytest.mark.parametrize("state", [CLEAR, BAND, TRIP])
def test_link_warning_and_alarm_judge_the_link_health_states(state):
    """W-B05 and A-B05 watch link_health.state; their rows differ in delay
    (A-B05: link_lost_alarm_s) and in the lead."""
    d = det()
    for b in (None, cells(2000)):
        assert evaluate(d, C.W_B05, obs(b, link_state=state)) == state
        assert evaluate(d, C.A_B05, obs(b, link_state=state)) == state


def test_configuration_and_no_battery_flags():
    d = det()
    assert evaluate(d, C.E_B31, obs(None)) == CLEAR
    assert evaluate(d, C.E_B31, obs(None, config_bad=True)) == TRIP
    assert evaluate(d, C.E_B32, obs(None)) == CLEAR
    assert evaluate(d, C.E_B32, obs(None, no_battery=True)) == TRIP


@pytest.mark.parametrize("dc,state", [
    (None, CLEAR), (250, CLEAR), (700, CLEAR), (701, BAND), (900, BAND), (901, TRIP), (1000, TRIP),
    (1001, HARD), (SENSOR_SHORT, TRIP), (SENSOR_OPEN, CLEAR)])
def test_bms_temperature_against_its_limits_and_a_failed_sensor(dc, state):
    # A-B15: bms_temp_reset_c 70, bms_temp_max_c 90, bms_temp_hard_c 100; no sensor: never
    assert evaluate(det(), C.A_B15, obs(None, bms_temp_dc=dc)) == state


def test_a_port_trip_is_a_a12_with_or_without_a_reading():
    d = det()
    assert evaluate(d, C.A_A12, obs(None)) == CLEAR
    assert evaluate(d, C.A_A12, obs(None, port_tripped=True)) == TRIP
    assert evaluate(d, C.A_A12, obs(make_bank(), port_tripped=True)) == TRIP


def test_a_battery_flagging_a_fault_is_judged_on_any_reading():
    d = det()
    flagged = make_bank(n=2, flags=[0, B.FLAG_FAULT])
    assert flagged.fault_count == 1
    assert evaluate(d, C.E_B11, obs(flagged)) == TRIP
    assert evaluate(d, C.E_B11, obs(flagged, stale=True, complete=False)) == TRIP
    assert evaluate(d, C.E_B11, obs(make_bank(n=2, flags=B.FLAG_BALANCING))) == CLEAR


def test_an_impossible_value_from_a_battery_is_a_fault_with_or_without_a_reading():
    d = det()
    assert evaluate(d, C.E_B11, obs(None, implausible=True)) == TRIP
    assert evaluate(d, C.E_B11, obs(make_bank(), implausible=True, stale=True)) == TRIP
    assert evaluate(d, C.E_B11, obs(None)) == HOLD
    assert evaluate(d, C.E_B11, obs(make_bank())) == CLEAR


@pytest.mark.parametrize("series,n_cells,state", [
    (1, 2, TRIP), (1, 3, CLEAR), (1, 4, CLEAR), (2, 4, CLEAR), (4, 4, CLEAR), (1, 16, CLEAR),
    (3, 6, CLEAR), (5, 4, TRIP), (2, 16, TRIP)])
def test_bank_nominal_voltage_outside_every_system(series, n_cells, state):
    """E-B09 judges what the bank is: its series cells at 3.2 V (2 cells 6.4 V,
    3 cells 9.6 V, 18 cells 57.6 V, 20 cells 64 V)."""
    b = make_bank(cells_mv=(3300,) * n_cells, n=series, spos=list(range(1, series + 1)))
    assert b.series_cells == series * n_cells and b.topology == B.TOPOLOGY_OK
    assert evaluate(det(), C.E_B09, obs(b)) == state


@pytest.mark.parametrize("mv", [0, 8000, 8999, 60001, 60050, 105600])
def test_bank_voltage_as_measured_does_not_decide_e_b09(mv):
    """A load sagging a 12 V bank to 8 V, or a 16-cell bank charged to 3.75 V a
    cell (60.05 V): the nominal voltage still fits a system."""
    for n in (4, 16):
        b = make_bank(cells_mv=(3300,) * n)
        b.bank_mv = mv
        assert evaluate(det(), C.E_B09, obs(b)) == CLEAR


def test_the_nominal_voltage_of_a_series_bank_decides_e_b09():
    five_s = make_bank(n=5, spos=[1, 2, 3, 4, 5])          # 20 cells: 64 V nominal
    assert five_s.series_cells == 20 and five_s.topology == B.TOPOLOGY_OK
    assert evaluate(det(), C.E_B09, obs(five_s)) == TRIP
    four_s = make_bank(n=4, spos=[1, 2, 3, 4], cells_mv=(3000,) * 4)
    assert evaluate(det(), C.E_B09, obs(four_s)) == CLEAR


def test_configuration_checks():
    d = det()
    uneven = make_bank(n=3, spos=[1, 2, 1])
    assert uneven.topology == B.TOPOLOGY_UNEVEN_STRINGS
    assert evaluate(d, C.E_B01, obs(uneven)) == TRIP and evaluate(d, C.E_B05, obs(uneven)) == CLEAR
    mixed = make_bank(n=2)
    mixed.n_cells[1] = 8
    mixed.compute_aggregates()
    assert evaluate(d, C.E_B05, obs(mixed)) == TRIP and evaluate(d, C.E_B01, obs(mixed)) == CLEAR
    ok = make_bank(n=4, spos=[1, 2, 3, 4])
    assert [evaluate(d, c, obs(ok)) for c in (C.E_B01, C.E_B05, C.E_B09)] == [CLEAR] * 3


@pytest.mark.parametrize("kw", [{"complete": False}, {"stale": True}])
def test_bank_checks_judge_only_a_complete_recent_reading(kw):
    """A 4S bank with a battery missing looks like uneven strings and a low bank:
    it is a link problem (W-B05 / A-B05), never an invalid configuration."""
    d = det()
    partial = make_bank(n=3, spos=[1, 2, 4])
    assert partial.topology == B.TOPOLOGY_UNEVEN_STRINGS
    low = make_bank(cells_mv=(500,) * 4)
    for cid in (C.E_B01, C.E_B05, C.E_B09):
        assert evaluate(d, cid, obs(partial, **kw)) == HOLD
        assert evaluate(d, cid, obs(low, **kw)) == HOLD


def test_data_rows_are_the_ones_judged_on_readings():
    data = [C.text(cid) for cid in range(C.N_CODES) if is_data_row(C.detector(cid))]
    assert data == ["W-B01", "A-B01", "A-B02", "A-B08", "A-B09", "A-B10", "E-B01", "E-B05", "E-B09", "E-B11"]
