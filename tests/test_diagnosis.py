"""firmware/diagnosis.py: every row through its detector and the qualifier, the
pre-alarm lead, the recharge latch, user actions and decisions at once; with
decide, the ports each tick leaves allowed, to the millisecond.

Tests marked "old core:" fail on the previous core (firmware/protection.py,
replaced by diagnosis/detect/qualifier); the line says why it failed there.
"""
import pytest
from hypothesis import given, settings as hsettings, strategies as st

import host_tools
from bankutil import cells, make_bank, temps
from diagutil import Drive, check_reasons

host_tools.use_firmware()
import bank as B  # noqa: E402
import codes as C  # noqa: E402
from detect import is_data_row  # noqa: E402
from qualifier import BAND, CLEAR, TRIP  # noqa: E402

ALL_PORTS = list(range(C.N_PORTS))


def started(bank=None, **overrides):
    """A drive whose first reading (3.3 V cells) came at t=0, then 1 s of readings."""
    d = Drive(**overrides)
    d.first(bank or cells(3300))
    d.run(1000)
    return d


def readings(d, banks, per_reading_ms=1000, **kw):
    """A new reading every ``per_reading_ms`` (ticks of 100 ms in between)."""
    for b in banks:
        d.tick(100, bank=b, **kw)
        d.run(per_reading_ms - 100, **kw)
    return d


# ----- start-up and the first reading -----------------------------------------

def test_nothing_is_judged_and_everything_withdrawn_before_the_first_reading():
    d = Drive()
    d.tick(0)
    d.run(2000)
    assert d.codes() == [] and not d.d.pre_alarm
    assert all(not d.allowed(p) for p in ALL_PORTS)
    assert d.reasons(C.PORT_ATC) == [C.REASON_STARTUP]
    d.first(cells(3300))
    assert d.atc and d.atd and d.reasons(C.PORT_ATD) == []


@pytest.mark.parametrize("mv", [2799, 2700, 2600, 2400])
def test_the_first_reading_below_the_limit_never_allows_discharge(mv):
    """Decided at once, without delay or lead: a bank that is already too empty
    never gets ATD, not even for 30 s."""
    d = Drive()
    d.first(cells(mv))
    assert not d.atd and d.on("A-B01") and d.on("W-B01") and d.d.pre_alarm
    assert d.atc


def test_the_first_reading_decides_the_bank_checks_at_once():
    mixed = make_bank(n=2)
    mixed.n_cells[1] = 8
    mixed.compute_aggregates()
    d = Drive()
    d.first(mixed)
    assert d.on("E-B05") and not d.atd and not d.atc


# ----- pre-alarm and under-voltage, to the millisecond -----------------------

def test_pre_alarm_trips_below_3_1_v_after_exactly_its_delay():
    d = started()
    readings(d, [cells(3100)] * 4)                     # at the trip value: not below it
    assert not d.on("W-B01")
    d.tick(100, bank=cells(3099))                      # first seen below
    d.tick(999)
    assert not d.on("W-B01")
    d.tick(1)
    assert d.on("W-B01") and d.d.pre_alarm and d.atd and d.atc


def test_pre_alarm_clears_after_its_delay_at_3_2_v():
    d = started()
    d.tick(100, bank=cells(3000))
    d.run(1000)
    assert d.on("W-B01")
    d.tick(100, bank=cells(3199))                      # between trip and reset: held
    d.run(5000)
    assert d.on("W-B01")
    d.tick(100, bank=cells(3200))
    d.tick(999)
    assert d.on("W-B01")
    d.tick(1)
    assert not d.on("W-B01") and not d.d.pre_alarm


def test_a_short_recovery_does_not_restart_the_delay():
    """The counter goes down at a quarter of the rate it went up: 800 ms below,
    100 ms just above, then below again trips 25 ms of count later, not 1 s."""
    d = started()
    d.tick(100, bank=cells(3000))                      # t0: first seen below
    d.run(800)                                         # 800 ms counted
    d.tick(100, bank=cells(3150))                      # 100 ms above: 25 ms off the count
    d.tick(100, bank=cells(3000))                      # first tick of a new run: starts it
    d.tick(224)
    assert not d.on("W-B01")
    d.tick(1)
    assert d.on("W-B01")


def test_under_voltage_waits_30_s_of_pre_alarm_before_withdrawing_atd():
    """A cell falls from 3.3 V straight to 2.7 V: the pre-alarm comes after its
    1 s delay and ATD goes exactly 30 s after the pre-alarm, not 5 s after the sag."""
    d = started()
    d.tick(100, bank=cells(2700))                      # t0
    d.run(1000)
    assert d.on("W-B01") and d.d.pre_alarm and d.atd   # t0 + 1 s
    d.run(29900)
    assert d.atd and not d.on("A-B01")                 # t0 + 30.9 s
    d.tick(100)
    assert not d.atd and d.on("A-B01")                 # t0 + 31 s: 30 s of pre-alarm
    assert d.reasons(C.PORT_ATD) == ["A-B01"] and d.reasons(C.PORT_SYS_DIS) == ["A-B01"]
    assert d.atc and d.allowed(C.PORT_ALT) and d.allowed(C.PORT_SYS_CHG)   # charging stays allowed


def test_under_voltage_after_a_long_pre_alarm_uses_its_own_5_s_delay():
    d = started()
    readings(d, [cells(3050)] * 60)                    # pre-alarm on for a minute
    d.tick(100, bank=cells(2799))
    d.tick(4999)
    assert d.atd
    d.tick(1)
    assert not d.atd


def test_the_lead_counts_from_any_pre_alarm():
    """A low-SoC warning has had the pre-alarm on for 40 s: the under-voltage
    load disconnect then needs only its own delay."""
    d = started()
    d.run(40000, soc_pct10=150)
    assert d.on("W-B07") and d.d.pre_alarm and d.d.pre_ms >= 30000
    d.tick(100, bank=cells(2700), soc_pct10=150)
    d.tick(4999, soc_pct10=150)
    assert d.atd
    d.tick(1, soc_pct10=150)
    assert not d.atd and d.on("A-B01")


def test_low_bank_voltage_a_b08_after_its_delay_and_the_pre_alarm_lead():
    even = lambda mv: make_bank(cells_mv=(mv,) * 4)      # noqa: E731
    d = started(cell_uv_trip_v=2.6, cell_uv_reset_v=2.9)   # keep A-B01 out of the way
    readings(d, [even(3050)] * 60)                     # pre-alarm on for a minute
    d.tick(100, bank=even(2749))                       # the mean below 2.75 V
    d.tick(9999)
    assert d.atd
    d.tick(1)
    assert not d.atd and d.reasons(C.PORT_ATD) == ["A-B08"]
    readings(d, [even(3300)] * 30)                     # relaxed, not recharged: held
    assert not d.atd and d.on("A-B08")
    d.run(30000, current_ma=2000)                      # recharged
    assert d.atd and not d.on("A-B08")


def test_a_b08_waits_for_the_lead_too():
    even = lambda mv: make_bank(cells_mv=(mv,) * 4)      # noqa: E731
    d = started(cell_uv_trip_v=2.6, cell_uv_reset_v=2.9)
    d.tick(100, bank=even(2740))                        # t0: pre-alarm after 1 s
    assert d.run_until(lambda d: not d.atd, 60000) == 31000


# ----- (b) hard limits --------------------------------------------------------

def test_over_voltage_past_the_hard_limit_withdraws_charging_on_that_reading():
    # old core: A-B02 waited its 1 s delay however high the cell was
    d = started(cell_ov_hard_v=3.90)
    d.tick(100, bank=cells(3901))
    assert not d.atc and d.on("A-B02")
    assert [p for p in ALL_PORTS if not d.allowed(p)] == [C.PORT_ATC, C.PORT_ALT, C.PORT_SYS_CHG]
    assert d.reasons(C.PORT_ATC) == ["A-B02"] and d.atd
    e = started(cell_ov_hard_v=3.90)
    e.tick(100, bank=cells(3900))                       # at the limit: the 1 s delay applies
    assert e.atc
    e.tick(999)
    assert e.atc
    e.tick(1)
    assert not e.atc


def test_under_voltage_past_the_hard_limit_raises_the_pre_alarm_at_once_and_keeps_the_lead():
    # old core: the pre-alarm waited its 1 s delay at any voltage (ATD then 30 s after it)
    d = started(cell_uv_hard_v=2.50)
    d.tick(100, bank=cells(2499))                       # t0
    assert d.on("W-B01") and d.d.pre_alarm and d.atd
    d.run(29900)
    assert d.atd                                        # the loads get their 30 s
    d.tick(100)
    assert not d.atd and d.on("A-B01")                  # t0 + 30 s, not 31 s
    assert d.atc


@pytest.mark.parametrize("dc,code", [(551, "A-B09"), (-1, "A-B10")])
def test_temperature_past_a_hard_limit_withdraws_charging_on_that_reading(dc, code):
    d = started()
    d.tick(100, bank=temps(dc))
    assert not d.atc and d.on(code) and d.atd


def test_a_hard_reading_acts_even_on_stale_data():
    d = started(cell_ov_hard_v=3.90)
    d.tick(100, bank=cells(3950), stale=True)
    assert not d.atc


# ----- (a) intermittent signals ----------------------------------------------

def first_withdrawal(d, pattern, port, limit_ms):
    """Feed ``pattern`` (a bank per second, repeated) until ``port`` is withdrawn;
    return the ms from the first reading of the pattern, or None."""
    t0 = d.t + 100
    k = 0
    while d.t - t0 < limit_ms:
        d.tick(100, bank=pattern[(k // 10) % len(pattern)] if k % 10 == 0 else None)
        k += 1
        if not d.allowed(port):
            return d.t - t0
    return None


def test_a_cold_sensor_that_warms_one_second_in_five_still_stops_charging():
    # old core: the 5 s delay restarted each time the sensor read 5 degC or more, so 4 s runs never tripped
    d = started(temps(200))
    cycle = [temps(45)] * 4 + [temps(55)]               # 4.5 degC for 4 s, 5.5 degC for 1 s
    # 3.9 s counted up, 10 ticks x 25 ms down, then 1.35 s of the second run
    assert first_withdrawal(d, cycle, C.PORT_ATC, 60000) == 6400
    assert d.reasons(C.PORT_ATC) == ["A-B10"] and d.atd
    for k in range(600):                                # the pattern goes on: charging stays off
        d.tick(100, bank=cycle[(k // 10) % 5] if k % 10 == 0 else None)
        assert not d.atc


def test_every_other_reading_over_3_75_v_stops_charging_within_3_s():
    # old core: each 1 s reading over 3.75 V restarted the 1 s delay and never completed it
    d = started()
    # 0.9 s up, 10 ticks x 25 ms down, then 0.35 s of the second run
    assert first_withdrawal(d, [cells(3760), cells(3700)], C.PORT_ATC, 60000) == 2400
    assert d.reasons(C.PORT_ATC) == ["A-B02"]


def test_a_signal_past_its_trip_a_tenth_of_the_time_never_trips():
    d = started()
    readings(d, ([cells(3760)] + [cells(3700)] * 9) * 30)
    assert d.atc and not d.on("A-B02")


# ----- (c) the recharge latch and user actions -------------------------------

def under_voltage():
    """A drive whose A-B01 has withdrawn ATD (cell 2.7 V); returns it."""
    d = started()
    d.tick(100, bank=cells(2700))
    assert d.run_until(lambda d: not d.atd, 60000) is not None
    return d


def test_the_cells_relaxing_above_the_reset_do_not_bring_the_loads_back():
    # old core: A-B01 cleared as soon as every cell was back at 3.2 V
    d = under_voltage()
    readings(d, [cells(3300)] * 600)                    # ten minutes at 3.3 V, no charge
    assert not d.atd and d.on("A-B01") and d.reasons(C.PORT_ATD) == ["A-B01"]
    assert not d.on("W-B01") and d.d.pre_alarm           # A-B01 keeps the pre-alarm on


def test_a_recharge_brings_the_loads_back():
    # old core: no recharge evidence existed (the loads came back on the voltage alone)
    d = under_voltage()
    readings(d, [cells(3300)] * 20)
    d.tick(100, current_ma=500)                          # t1: charging at recharge_current_a
    d.run(9800, current_ma=500)
    assert not d.d.recharged
    d.tick(100, current_ma=500)                          # t1 + 9.9 s: 10 s of charge counted
    assert d.d.recharged and not d.atd
    d.run(4900, current_ma=500)                          # then the row's 5 s of clear
    assert not d.atd
    d.tick(100, current_ma=500)
    assert d.atd and not d.on("A-B01")


def test_a_charge_below_the_recharge_current_is_not_a_recharge():
    d = under_voltage()
    readings(d, [cells(3300)] * 10)
    d.run(120000, current_ma=499)
    d.run(120000, current_known=False)
    assert not d.atd and not d.d.recharged


def test_a_recharge_alone_is_not_enough_while_the_cell_is_below_its_reset():
    d = under_voltage()
    readings(d, [cells(3150)] * 20, current_ma=5000)
    assert d.d.recharged and not d.atd
    d.tick(100, bank=cells(3200), current_ma=5000)
    d.run(4900, current_ma=5000)
    assert not d.atd
    d.tick(100, current_ma=5000)
    assert d.atd


def test_charge_before_the_withdrawal_does_not_count_as_recharge():
    d = started()
    d.run(20000, current_ma=5000)
    assert d.d.recharged
    d.tick(100, bank=cells(2700))
    d.run_until(lambda d: not d.atd, 60000)
    assert not d.d.recharged and d.d.recharge_ms == 0
    readings(d, [cells(3300)] * 60)
    assert not d.atd


def test_a_user_action_releases_the_latched_withdrawal():
    # old core: there was no latch to release (covered by the relaxation above)
    d = under_voltage()
    readings(d, [cells(3300)] * 60)
    assert not d.atd
    d.d.user_action()
    d.tick(100)
    assert d.atd and not d.on("A-B01")


def test_a_user_action_judges_the_cells_afresh_delay_included():
    d = under_voltage()                                  # cell still at 2.7 V, lead long over
    d.d.user_action()
    d.tick(100)                                          # t0: released; judged from here
    assert d.atd
    d.tick(4999)
    assert d.atd
    d.tick(1)
    assert not d.atd


def test_a_user_action_cannot_bring_the_loads_back_onto_a_cell_past_its_hard_limit():
    d = started(cell_uv_hard_v=2.5)
    d.tick(100, bank=cells(2400))
    d.run_until(lambda d: not d.atd, 60000)
    d.d.user_action()
    d.tick(100)
    assert not d.atd and d.on("A-B01")


def test_a_user_action_leaves_codes_that_do_not_latch():
    d = started()
    d.tick(100, bank=cells(3800))
    d.run(2000)
    assert d.on("A-B02")
    d.d.user_action()
    d.tick(100)
    assert d.on("A-B02") and not d.atc


# ----- over-voltage and temperature rules ------------------------------------

@pytest.mark.parametrize("code,kind,ok,bad,delay_ms,hold,reset", [
    ("A-B02", "cell", 3750, 3751, 1000, 3551, 3550),     # over-voltage
    ("A-B09", "temp", 500, 501, 5000, 451, 450),         # charge over-temperature 50 degC
    ("A-B10", "temp", 50, 49, 5000, 59, 60),             # no charging below 5 degC
])
def test_charge_rules_trip_reset_and_delay(code, kind, ok, bad, delay_ms, hold, reset):
    mk = (lambda v: make_bank(cells_mv=(3300, 3300, v, 3300))) if kind == "cell" else \
        (lambda v: make_bank(temps_dc=(200, v)))
    d = started(mk(ok))
    readings(d, [mk(ok)] * 20)
    assert d.atc and not d.on(code)
    d.tick(100, bank=mk(bad))
    d.tick(delay_ms - 1)
    assert d.atc
    d.tick(1)
    assert not d.atc and d.on(code) and d.reasons(C.PORT_ATC) == [code]
    assert d.atd                                        # charge rules never stop discharge
    readings(d, [mk(hold)] * 30)
    assert not d.atc
    d.tick(100, bank=mk(reset))                         # reset: clears after the row's delay
    d.tick(delay_ms - 1)
    assert not d.atc
    d.tick(1)
    assert d.atc and not d.on(code)


def test_a_trip_while_clearing_restarts_the_clear_time():
    d = started()
    d.tick(100, bank=cells(3800))
    d.run(1000)
    assert d.on("A-B02")
    d.tick(100, bank=cells(3500))
    d.run(900)
    d.tick(100, bank=cells(3800))                        # back over: the clear starts again
    d.tick(100, bank=cells(3500))
    d.run(900)
    assert d.on("A-B02")
    d.run(100)
    assert not d.on("A-B02")


# ----- (h) a battery's own fault flag ---------------------------------------

def test_a_battery_flagging_a_fault_withdraws_everything_at_once_and_clears_after_its_time():
    # old core: the records' fault flag was never looked at (no E-B11)
    d = started(make_bank(n=2))
    d.tick(100, bank=make_bank(n=2, flags=[0, B.FLAG_FAULT]))
    assert d.on("E-B11") and d.d.pre_alarm
    assert all(not d.allowed(p) for p in ALL_PORTS)
    assert d.reasons(C.PORT_ATC) == ["E-B11"] and d.reasons(C.PORT_ATD) == ["E-B11"]
    readings(d, [make_bank(n=2, flags=[0, B.FLAG_FAULT])] * 10)
    d.tick(100, bank=make_bank(n=2))                     # t0: the flag has gone
    d.tick(4999)
    assert d.on("E-B11") and not d.atd
    d.tick(1)
    assert not d.on("E-B11") and d.atd and d.atc         # battery_fault_clear_s after it went


def test_an_impossible_value_is_e_b11_until_valid_readings_for_its_clear_time():
    d = started()
    d.tick(100, implausible=True)
    assert d.on("E-B11") and all(not d.allowed(p) for p in ALL_PORTS)
    d.run(2000, implausible=True)
    d.tick(100, bank=cells(3300))                        # t0: a valid reading again
    d.run(4900)
    assert d.on("E-B11")
    d.tick(100)
    assert not d.on("E-B11") and d.atd


def test_a_fault_flag_flickering_keeps_e_b11():
    d = started(make_bank(n=2))
    flagged, ok = make_bank(n=2, flags=[B.FLAG_FAULT, 0]), make_bank(n=2)
    readings(d, [flagged, ok, ok, ok] * 10)
    assert d.on("E-B11")


# ----- the link: W-B05, A-B05 and what a reading after them means ------------

def test_link_loss_warns_at_once_then_alarms_after_30_s_of_it():
    d = started()
    d.tick(100, link_state=TRIP)                         # t0
    assert d.on("W-B05") and d.d.pre_alarm and d.atd and d.atc
    d.run(29900, link_state=TRIP)
    assert d.atd and not d.on("A-B05")
    d.tick(100, link_state=TRIP)
    assert d.on("A-B05") and not d.atd and not d.atc
    assert all(d.reasons(p) == ["A-B05"] for p in ALL_PORTS)


def test_link_alarm_clears_when_the_link_stops_failing_and_the_warning_when_it_is_healthy():
    d = started()
    d.run(31000, link_state=TRIP)
    assert d.on("A-B05")
    d.tick(100, link_state=BAND)                          # degraded, not failing: A-B05 clears
    assert not d.on("A-B05") and d.atd and d.atc
    d.run(5000, link_state=BAND)                          # W-B05 held while degraded
    assert d.on("W-B05") and d.d.pre_alarm
    d.tick(100, link_state=CLEAR)
    assert not d.on("W-B05") and not d.d.pre_alarm


def test_a_degraded_link_keeps_a_steady_warning():
    # link_health reports BAND between the failing and the healthy share: held.
    d = started()
    pattern = [TRIP] * 5 + [BAND] * 50
    for k in range(400):
        d.tick(100, link_state=pattern[k % len(pattern)])
        if k >= 5:
            assert d.on("W-B05")
    assert not d.on("A-B05")      # failing 5 of 55 ticks: far below A-B05's 20 %


def test_the_first_fresh_reading_after_a_b05_is_decided_at_once():
    d = started()
    d.run(31000, link_state=TRIP, stale=True)
    assert d.on("A-B05")
    d.tick(100, bank=cells(2600), fresh=True, link_state=CLEAR)
    assert d.on("A-B01") and not d.atd and not d.on("A-B05")


def test_stale_data_past_its_trip_still_trips():
    """A reading known to be past the trip is not forgotten because no newer one
    came: the delay and the lead run on (staleness never freezes a tripped rule)."""
    # old core: every rule froze while the reading was older than link_lost_warn_s
    d = started()
    d.tick(100, bank=cells(2740))                        # t0, then nothing newer
    assert d.run_until(lambda d: not d.atd, 60000, stale=True) == 31000


def test_nothing_clears_on_stale_data():
    d = started()
    d.tick(100, bank=cells(3800))
    d.run(1000)
    assert d.on("A-B02")
    d.tick(100, bank=cells(3300), stale=True)
    d.run(60000, stale=True)
    assert d.on("A-B02")
    d.run(1000)                                          # fresh again: the 1 s of clear
    assert not d.on("A-B02")


# ----- state of charge -------------------------------------------------------

def test_low_soc_warning_drives_the_pre_alarm_and_clears_above_its_margin():
    d = started()                                        # warning 20 %, margin 5 %
    d.tick(100, soc_pct10=201)
    assert not d.on("W-B07")
    d.tick(100, soc_pct10=200)
    assert d.on("W-B07") and d.d.pre_alarm and d.atd
    d.tick(100, soc_pct10=249)
    assert d.on("W-B07")
    d.tick(100, soc_pct10=250)
    assert not d.on("W-B07") and not d.d.pre_alarm


def test_discharge_limit_withdraws_atd_at_once_and_zero_disables_it():
    d = started()                                        # limit 10 %
    d.tick(100, soc_pct10=100)
    assert not d.atd and d.reasons(C.PORT_ATD) == ["A-B07"] and d.atc
    d.tick(100, soc_pct10=149)
    assert not d.atd
    d.tick(100, soc_pct10=150)
    assert d.atd
    d2 = started(discharge_limit_pct=0, low_soc_warning_pct=0)
    d2.tick(100, soc_pct10=0)
    assert d2.atd and d2.codes() == []


def test_unknown_soc_raises_no_soc_code():
    d = started()
    d.run(5000, soc_pct10=-1)
    assert not d.on("A-B07") and not d.on("W-B07")


# ----- bank checks, configuration, no battery -------------------------------

def test_e_b09_after_its_confirm_time_and_clearing_at_once():
    d = started()
    high = make_bank()
    high.bank_mv = 60001
    d.tick(100, bank=high)
    d.tick(1999)
    assert d.atd
    d.tick(1)
    assert d.on("E-B09") and not d.atd and not d.atc
    d.tick(100, bank=make_bank())
    assert not d.on("E-B09") and d.atd


def test_e_b01_uneven_strings_after_its_confirm_time():
    d = started()
    d.tick(100, bank=make_bank(n=3, spos=[1, 2, 1]))
    d.tick(1999)
    assert not d.on("E-B01")
    d.tick(1)
    assert d.on("E-B01") and not d.atd and not d.atc


def test_bank_checks_never_trip_on_incomplete_readings():
    d = started(make_bank(n=4, spos=[1, 2, 3, 4]))
    partial = make_bank(n=3, spos=[1, 2, 4])
    readings(d, [partial] * 60, complete=False)
    assert not d.on("E-B01") and not d.on("E-B09") and not d.on("A-B08")


def test_nothing_answering_since_boot_is_e_b32_with_the_startup_reason():
    d = Drive()
    d.tick(0)
    d.tick(100, no_battery=True)
    assert d.on("E-B32") and not d.atd
    assert d.reasons(C.PORT_ATD) == [C.REASON_STARTUP, "E-B32"]
    d.first(cells(3300))
    assert not d.on("E-B32") and d.atd


def test_corrupt_settings_are_e_b31_and_withdraw_nothing():
    d = started()
    d.tick(100, config_bad=True)
    assert d.on("E-B31") and d.atc and d.atd and all(d.allowed(p) for p in ALL_PORTS)
    d.tick(100)
    assert not d.on("E-B31")


def test_settings_changes_apply_on_the_next_tick():
    d = started()
    readings(d, [cells(3150)] * 2)
    assert not d.on("W-B01")
    d.s.set("pre_alarm_trip_v", 3.18)
    d.tick(100)
    d.tick(1000)
    assert d.on("W-B01")
    d.s.set("recharge_s", 1)
    assert d.d._recharge_need_ms == 10000
    d.tick(100)
    assert d.d._recharge_need_ms == 1000


def test_active_mask_lists_the_active_codes_as_bits():
    d = started()
    d.tick(100, bank=cells(3800), soc_pct10=100)
    d.run(1000, soc_pct10=100)
    assert d.d.active_mask() == (1 << C.W_B07) | (1 << C.A_B02) | (1 << C.A_B07)


def test_the_lead_counter_saturates():
    d = started()
    d.d.pre_alarm = True
    d.d.pre_ms = (1 << 28) - 10
    d.d.update(1000, d.o)
    assert d.d.pre_ms == 1 << 28


# ----- properties ------------------------------------------------------------

STATES = [CLEAR, BAND, TRIP]


def segment_strategy():
    """Facts that hold for ``n`` ticks of ``dt`` ms (a new reading on the first)."""
    return st.tuples(
        st.integers(1, 60),                                     # n ticks
        st.sampled_from([1, 100, 100, 100, 250, 1000]),         # dt
        st.integers(2300, 3400),                                # most cells
        st.integers(2300, 3400),                                # the lowest cell
        st.integers(3300, 4200),                                # the highest cell
        st.integers(-50, 600),                                  # a temperature
        st.sampled_from([False, False, False, True]),           # stale
        st.sampled_from([True, True, True, False]),             # complete
        st.sampled_from([False] * 9 + [True]),                  # at_once (on the reading)
        st.sampled_from(STATES),                                # link state
        st.sampled_from([-1, -1, 0, 100, 180, 240, 600]),      # SoC
        st.sampled_from([None, -20000, 0, 499, 500, 20000]),    # current
        st.sampled_from([False] * 9 + [True]),                  # a user action first
        st.sampled_from([False] * 9 + [True]),                  # a battery flags a fault
    )


@given(st.lists(segment_strategy(), min_size=1, max_size=30), st.booleans(), st.booleans())
@hsettings(max_examples=150, deadline=None)
def test_diagnosis_invariants_on_random_ticks(segments, remote_on, all_off):
    """Whatever the tick's facts: the pre-alarm is on exactly while a code that
    drives it is active; a row with the lead becomes active only once the
    pre-alarm has been on for the lead (or a reading is decided at once); a row
    that latches clears only after a recharge or a user action; nothing judged
    on readings clears on stale data; every withdrawn port carries its reasons
    and every allowed one none."""
    d = Drive()
    d.remote_on = remote_on
    d.all_off = all_off
    lead = d.s.ms("pre_alarm_lead_s")
    for (n, dt, base, lo, hi, dc, stale, complete, at_once, link, soc, ma, user, fault) in segments:
        bank = make_bank(cells_mv=(base, lo, hi, base), temps_dc=(200, dc), n=2, flags=[0, 2 if fault else 0])
        kw = {} if ma is None else {"current_ma": ma}
        for k in range(n):
            before = bytes(d.active)
            acted = user and k == 0
            if acted:
                d.d.user_action()
            new = bank if k == 0 else None
            d.tick(dt, bank=new, fresh=new is not None, stale=stale, complete=complete,
                   at_once=at_once and k == 0, link_state=link, soc_pct10=soc, **kw)
            a = d.active
            pre = any(a[c] and C.flags(c) & C.F_PRE_ALARM for c in range(C.N_CODES))
            assert d.d.pre_alarm == pre
            decided_at_once = (at_once and k == 0) or (new is not None and before[C.A_B05])
            for c in range(C.N_CODES):
                data = is_data_row(C.detector(c))
                if a[c] and not before[c] and C.flags(c) & C.F_LEAD:
                    assert d.d.pre_ms >= lead or (data and decided_at_once), C.text(c)
                if before[c] and not a[c]:
                    if C.flags(c) & C.F_RECHARGE:
                        assert d.d.recharged or acted, C.text(c)
                    if data and stale and not (acted and C.flags(c) & C.F_RECHARGE):
                        pytest.fail("%s cleared on stale data" % C.text(c))
            check_reasons(d.st, a, d.startup, remote_on, all_off)
