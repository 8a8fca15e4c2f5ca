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


def test_pre_alarm_clears_after_pre_alarm_hold_s_at_3_2_v():
    # before the review: it cleared 1 s (its trip delay) after the cells were back at 3.2 V
    d = started()
    d.tick(100, bank=cells(3000))
    d.run(1000)
    assert d.on("W-B01")
    d.tick(100, bank=cells(3199))                      # between trip and reset: held
    d.run(5000)
    assert d.on("W-B01")
    d.tick(100, bank=cells(3200))
    d.tick(59999)
    assert d.on("W-B01") and d.d.pre_alarm
    d.tick(1)
    assert not d.on("W-B01") and not d.d.pre_alarm


def test_pre_alarm_hold_follows_its_setting():
    d = started(pre_alarm_hold_s=5)
    d.tick(100, bank=cells(3000))
    d.run(1000)
    assert d.on("W-B01")
    d.tick(100, bank=cells(3300))
    d.tick(4999)
    assert d.on("W-B01")
    d.tick(1)
    assert not d.on("W-B01")


def test_a_dip_during_the_hold_restarts_it():
    d = started()
    d.tick(100, bank=cells(3000))
    d.run(1000)
    d.tick(100, bank=cells(3300))
    d.run(50000)
    d.tick(100, bank=cells(3050))                      # below the trip again: the hold restarts
    d.tick(100, bank=cells(3300))
    d.tick(59999)
    assert d.on("W-B01")
    d.tick(1)
    assert not d.on("W-B01")


def chopped(d, sag_mv, rest_mv, sag_s, rest_s, seconds):
    """A load switched on for ``sag_s`` and off for ``rest_s``: the cell reads
    ``sag_mv`` then ``rest_mv``, one reading a second; returns the time (ms,
    from the first sag reading) of each change of W-B01 and ATD."""
    t0 = d.t + 100
    changes = []
    was = (d.on("W-B01"), d.atd)
    period = sag_s + rest_s
    for k in range(seconds * 10):
        if k % 10 == 0:
            d.tick(100, bank=cells(sag_mv if k // 10 % period < sag_s else rest_mv))
        else:
            d.tick(100)
        now = (d.on("W-B01"), d.atd)
        if now != was:
            changes.append((d.t - t0, now))
            was = now
    return changes


def test_a_chopped_sag_keeps_one_steady_pre_alarm_and_its_lead():
    """A load on for 2 s (2.7 V) and off for 3 s (3.25 V, above every reset): the
    pre-alarm comes once, stays on through the pauses, and the loads go exactly
    30 s after it came on (the sag is past the trip 40 % of the time, so A-B01's
    up/down counter is full long before)."""
    # before the review: W-B01 cleared 1 s into each pause, the lead restarted
    # with every sag, and A-B01 never withdrew ATD
    d = started()
    changes = chopped(d, 2700, 3250, 2, 3, 120)
    assert changes[0] == (1000, (True, True))           # W-B01 after its 1 s delay
    assert changes[1] == (31000, (True, False))         # ATD 30 s after the pre-alarm
    assert len(changes) == 2 and d.on("A-B01") and d.d.pre_alarm


def test_a_chopped_sag_a_tenth_of_the_time_keeps_the_pre_alarm_but_not_a_b01():
    d = started()
    changes = chopped(d, 2700, 3250, 1, 9, 300)
    assert changes == [] or changes[0][1] == (True, True)
    assert d.atd and not d.on("A-B01")


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
    # capacity unknown: the least, 100 mAh (the 1800th tick at 2 A), then A-B08's 10 s of clear
    assert d.run_until(lambda d: d.atd, 300000, current_ma=2000) == 190000
    assert not d.on("A-B08") and d.d.recharge_mah == 100


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


def recharge_time(d, limit_ms, **kw):
    """From the first tick of ``kw`` (a current), the ms until ``recharged`` and
    until ATD is back."""
    t1 = d.t + 100
    t_recharged = t_back = None
    while d.t - t1 < limit_ms and t_back is None:
        d.tick(100, **kw)
        if t_recharged is None and d.d.recharged:
            t_recharged = d.t - t1
        if d.atd:
            t_back = d.t - t1
    return t_recharged, t_back


@pytest.mark.parametrize("capacity_ah,pct,ma,need_mah,ms", [
    (100, 1.0, 2000, 1000, 1800000),     # 1 % of 100 Ah at 2 A: half an hour
    (0, 1.0, 2000, 100, 180000),         # capacity unknown: the least, 100 mAh
    (5, 1.0, 2000, 100, 180000),         # 1 % of 5 Ah is 50 mAh: the least applies
    (100, 0.5, 2000, 500, 900000),
    (200, 1.0, 20000, 2000, 360000),
    (100, 0.1, 500, 100, 720000),        # at recharge_current_a itself
    (0, 1.0, 700, 100, 514300),          # 0.0194 mAh a tick: the remainder is kept
])
def test_a_recharge_of_recharge_pct_of_the_capacity_brings_the_loads_back(capacity_ah, pct, ma, need_mah, ms):
    # before the review: 10 s (recharge_s) of charge current were enough, whatever the amount
    d = under_voltage_relaxed(recharge_pct=pct)
    d.capacity_ah = capacity_ah
    t_recharged, t_back = recharge_time(d, ms + 60000, current_ma=ma)
    assert t_recharged == ms - 100                       # counted from its first tick
    assert t_back == ms - 100 + 5000                     # then the row's 5 s of clear
    assert d.d.recharge_mah == need_mah and not d.on("A-B01")


def under_voltage_relaxed(**overrides):
    d = started(**overrides)
    d.tick(100, bank=cells(2700))
    assert d.run_until(lambda d: not d.atd, 60000) is not None
    readings(d, [cells(3300)] * 70)                      # relaxed; W-B01 gone after its hold
    assert not d.atd and d.codes() == ["A-B01"] and d.d.recharge_mah == 0
    return d


def test_a_current_sensor_offset_takes_the_whole_amount_not_seconds():
    """0.6 A of offset with nothing flowing (above recharge_current_a): the loads
    stay off until 1 % of 100 Ah has been "counted" (100 minutes), not 10 s."""
    d = under_voltage_relaxed()
    d.capacity_ah = 100
    d.run(600000, current_ma=600)
    assert not d.atd and not d.d.recharged and d.d.recharge_mah == 100
    t_recharged, t_back = recharge_time(d, 6000000, current_ma=600)
    assert t_recharged == 6000000 - 600000 - 100 and t_back == t_recharged + 5000
    assert d.d.recharge_mah == 1000


def test_recharge_is_the_net_charge_since_the_withdrawal():
    """Every current counts, a discharge against it; unknown current does not:
    three bursts of 2 A for 60 s make 100 mAh, after a 10 A discharge for 60 s has
    been made up (167 mAh)."""
    d = under_voltage_relaxed()
    d.run(60000, current_ma=-10000)                   # -166.7 mAh
    d.run(60000, current_known=False)
    d.run(300000, current_ma=2000)                    # +166.7 mAh: back to zero
    assert not d.d.recharged and -1 <= d.d.recharge_mah <= 0
    d.run(180000, current_ma=2000)                    # +100 mAh
    assert d.d.recharged
    assert d.run_until(lambda d: d.atd, 10000) == 5000


def test_a_trickle_charger_counts_and_zero_mean_noise_does_not():
    # second review: a 0.45 A charger never brought the loads back (current below
    # the old 0.5 A floor did not count)
    d = under_voltage_relaxed()
    for k in range(3000):                              # 5 min of +-400 mA noise, mean 0
        d.tick(100, current_ma=400 if k % 2 else -400)
    assert not d.d.recharged and abs(d.d.recharge_mah) <= 1
    d.run(800000, current_ma=450)                      # 100 mAh at 0.45 A: 800 s
    assert d.d.recharged


def test_a_recharge_alone_is_not_enough_while_the_cell_is_below_its_reset():
    d = under_voltage()
    readings(d, [cells(3150)] * 80, current_ma=5000)     # 100 mAh at 5 A: 72 s
    assert d.d.recharged and not d.atd
    d.tick(100, bank=cells(3200), current_ma=5000)
    d.run(4900, current_ma=5000)
    assert not d.atd
    d.tick(100, current_ma=5000)
    assert d.atd


def test_charge_before_the_withdrawal_does_not_count_as_recharge():
    d = started()
    d.run(80000, current_ma=5000)
    assert d.d.recharged
    d.tick(100, bank=cells(2700))
    d.run_until(lambda d: not d.atd, 60000)
    assert not d.d.recharged and d.d.recharge_mah == 0 and d.d._recharge_rem == 0
    readings(d, [cells(3300)] * 60)
    assert not d.atd


def test_a_new_withdrawal_starts_the_count_again():
    d = under_voltage_relaxed()
    d.run(100000, current_ma=2000)                       # 55 mAh counted
    assert d.d.recharge_mah == 55 and not d.d.recharged
    d.d.user_action()                                    # released...
    d.tick(100, bank=cells(2700))                        # ...and under again
    assert d.run_until(lambda d: not d.atd, 60000) is not None
    assert d.d.recharge_mah == 0 and d.d._recharge_rem == 0


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


def test_link_alarm_and_warning_hold_while_degraded_and_clear_when_healthy():
    # no clear hysteresis made every port chatter on a link losing 60 % of its answers
    d = started()
    d.run(31000, link_state=TRIP)
    assert d.on("A-B05")
    d.run(60000, link_state=BAND)                         # degraded: both held
    assert d.on("A-B05") and d.on("W-B05") and d.d.pre_alarm and not d.atd
    d.tick(100, link_state=CLEAR)
    assert not d.on("A-B05") and d.on("W-B05") and d.atd and d.atc
    d.run(29900, link_state=CLEAR)                        # t0 + link_warn_hold_s - 100 ms
    assert d.on("W-B05")
    d.run(10000, link_state=BAND)                         # degraded again: the count holds
    assert d.on("W-B05")
    d.tick(100, link_state=TRIP)                          # failing: the count restarts
    d.run(29900, link_state=CLEAR)
    assert d.on("W-B05")
    d.run(200, link_state=CLEAR)
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
    d.run(31000, link_state=TRIP, stale=True, fresh=False)
    assert d.on("A-B05")
    d.tick(100, bank=cells(2600), fresh=True, link_state=CLEAR)
    assert d.on("A-B01") and not d.atd and not d.on("A-B05")


def test_only_the_first_fresh_reading_after_a_b05_is_decided_at_once():
    # review: every fresh reading while A-B05 was held skipped the delays (for as
    # long as the link stayed degraded); only the first after A-B05 came may
    d = started()
    d.run(31000, link_state=TRIP, stale=True, fresh=False)
    d.tick(100, bank=cells(3300), fresh=True, link_state=BAND)      # the first: decided at once, healthy
    assert d.on("A-B05") and not d.on("W-B01")
    d.tick(900, link_state=BAND, fresh=False)
    d.tick(100, bank=cells(2790), fresh=True, link_state=BAND)      # the next: its delays apply
    assert d.on("A-B05") and not d.on("A-B01") and not d.on("W-B01")
    d.run(1000, link_state=BAND)
    assert d.on("W-B01") and not d.on("A-B01")


# ----- a battery the previous reading lacked (link_health.at_once_new) -------

def two(low=3300, high=3300, temp=200, battery=0, n=2, **kw):
    """``n`` batteries at 3.3 V; battery ``battery`` has a cell at ``low``, one at
    ``high`` and a sensor at ``temp`` (0.1 degC)."""
    b = make_bank(n=n, **kw)
    b.cell_mv[battery * B.MAX_CELLS + 1] = low
    b.cell_mv[battery * B.MAX_CELLS + 2] = high
    b.temp_dc[battery * B.MAX_TEMPS] = temp
    b.compute_aggregates()
    return b


def test_a_healthy_battery_missing_one_poll_does_not_cut_another_batterys_lead():
    """Battery 1 sags (2.7 V) and is watched: the pre-alarm is on and its 30 s lead
    runs. Healthy battery 2 misses one poll and comes back: only battery 2 is
    judged at once; battery 1's A-B01 still waits for the lead."""
    # before the review: the whole reading was decided at once and ATD went on battery 2's return
    d = started(make_bank(n=2))
    d.tick(100, bank=two(low=2700))                      # t0
    d.run(1000)
    assert d.on("W-B01") and d.atd                       # t0 + 1 s
    readings(d, [two(low=2700)] * 5)
    d.tick(100, bank=two(low=2700, n=1))                 # battery 2 misses a poll
    d.run(900)
    d.tick(100, bank=two(low=2700), new=[0, 1])          # and is back: t0 + 7.1 s
    assert d.atd and not d.on("A-B01")
    d.run(23800)
    assert d.atd                                         # t0 + 30.9 s
    d.tick(100)
    assert not d.atd and d.on("A-B01")                   # t0 + 31 s: 30 s of pre-alarm


def test_a_battery_back_with_its_own_cell_past_the_trip_is_decided_at_once():
    d = started(make_bank(n=2))
    d.tick(100, bank=make_bank(n=1))
    d.run(900)
    d.tick(100, bank=two(low=2790, battery=1), new=[0, 1])
    assert d.on("W-B01") and d.on("A-B01") and not d.atd and d.atc


@pytest.mark.parametrize("high,temp,code", [(3760, 200, "A-B02"), (3300, 510, "A-B09"), (3300, 40, "A-B10")])
def test_a_battery_back_past_a_charge_trip_stops_charging_at_once(high, temp, code):
    d = started(make_bank(n=2))
    d.tick(100, bank=make_bank(n=1))
    d.run(900)
    d.tick(100, bank=two(high=high, temp=temp, battery=1), new=[0, 1])
    assert d.on(code) and not d.atc and d.atd


def test_a_battery_back_in_the_band_keeps_the_delays():
    d = started(make_bank(n=2))
    d.tick(100, bank=make_bank(n=1))
    d.run(900)
    d.tick(100, bank=two(low=3150, battery=1), new=[0, 1])   # between trip and reset
    d.run(10000)
    assert d.codes() == []


def test_the_other_batteries_keep_their_delays_when_one_comes_back():
    """Battery 1 is over 3.75 V (A-B02's 1 s delay runs) when battery 2 comes back
    healthy: A-B02 still waits for its delay."""
    d = started(make_bank(n=2))
    d.tick(100, bank=two(high=3760), new=[0, 1])
    assert d.atc and not d.on("A-B02")
    d.tick(999)
    assert d.atc
    d.tick(1)
    assert not d.atc and d.on("A-B02")


def test_a_b08_is_not_decided_at_once_on_a_battery_back():
    even = lambda mv, n: make_bank(cells_mv=(mv,) * 4, n=n)      # noqa: E731
    d = started(even(3300, 2), cell_uv_trip_v=2.6, cell_uv_reset_v=2.9)
    d.tick(100, bank=even(3300, 1))
    d.run(900)
    d.tick(100, bank=even(2740, 2), new=[0, 1])          # t0: the mean below 2.75 V
    assert d.atd and not d.on("A-B08") and not d.on("A-B01")
    assert d.on("W-B01")                                 # the pre-alarm is decided at once
    assert d.run_until(lambda d: not d.atd, 60000) == 30000     # the lead, not at once


def test_bank_checks_and_the_fault_row_are_decided_at_once_on_a_battery_back():
    d = started(make_bank(n=2, spos=[1, 2]))
    d.tick(100, bank=make_bank(n=1, spos=[1]))
    d.run(900)
    d.tick(100, bank=make_bank(n=3, spos=[1, 2, 1]), new=[0, 0, 1])
    assert d.on("E-B01") and not d.atd and not d.atc
    e = started(make_bank(n=2))
    e.tick(100, bank=make_bank(n=1))
    e.run(900)
    mixed = make_bank(n=2)
    mixed.n_cells[1] = 8
    mixed.compute_aggregates()
    e.tick(100, bank=mixed, new=[0, 1])
    assert e.on("E-B05")
    f = started(make_bank(n=3, spos=[1, 2, 3]))           # 9 cells: 28.8 V...
    f.tick(100, bank=make_bank(n=2, spos=[1, 2]))
    f.run(900)
    f.tick(100, bank=make_bank(n=3, spos=[1, 2, 3], cells_mv=(3300,) * 7), new=[0, 0, 1])
    assert f.on("E-B09") and not f.on("E-B05")           # ...21 cells: 67.2 V, at once


def test_a_battery_back_changes_nothing_for_an_active_row():
    d = started(make_bank(n=2))
    d.tick(100, bank=two(high=3800))
    d.run(1000)
    assert d.on("A-B02")
    d.tick(100, bank=make_bank(n=2), new=[0, 1])
    d.tick(999)
    assert d.on("A-B02")                                 # its 1 s of clear, as always
    d.tick(1)
    assert not d.on("A-B02")


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
    five_s = make_bank(n=5, spos=[1, 2, 3, 4, 5])        # 20 cells: 64 V nominal
    d.tick(100, bank=five_s)
    d.tick(1999)
    assert d.atd
    d.tick(1)
    assert d.on("E-B09") and not d.atd and not d.atc
    d.tick(100, bank=make_bank())
    assert not d.on("E-B09") and d.atd


def test_e_b09_on_the_first_reading_of_a_5s_bank_at_once():
    d = Drive()
    d.first(make_bank(n=5, spos=[1, 2, 3, 4, 5], serials=["A", "B", "C", "D", "E"]))
    assert d.on("E-B09") and not d.atd and not d.atc


def test_a_measured_bank_voltage_outside_9_to_60_v_is_not_e_b09():
    """A load sagging a 12 V bank to 8 V (2 V a cell: the cell rules' business,
    with their lead) or a 16-cell bank charged to 60.05 V: never E-B09."""
    # before the review: E-B09 judged the measured voltage and withdrew every port 2 s in
    d = started()
    sag = make_bank(cells_mv=(2000,) * 4)
    assert sag.bank_mv == 8000
    readings(d, [sag] * 10)
    assert not d.on("E-B09")
    e = started(make_bank(cells_mv=(3300,) * 16), cell_ov_trip_v=3.8)    # no A-B02 at 3.753 V
    full = make_bank(cells_mv=(3753,) * 14 + (3754, 3754))
    assert full.bank_mv == 60050
    readings(e, [full] * 10)
    assert not e.on("E-B09") and e.codes() == []


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
    d.s.set("recharge_pct", 2.5)
    d.s.set("pre_alarm_hold_s", 7)
    assert d.d._recharge_pct10 == 10 and d.d.detectors.clear_ms[C.W_B01] == 60000
    d.tick(100)
    assert d.d._recharge_pct10 == 25 and d.d.detectors.clear_ms[C.W_B01] == 7000


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
        st.sampled_from([None] * 7 + [(0, 1), (1, 0), (1, 1)]),  # batteries the previous reading lacked
        st.sampled_from([0, 0, 5, 100]),                        # capacity, Ah
    )


@given(st.lists(segment_strategy(), min_size=1, max_size=30), st.booleans(), st.booleans())
@hsettings(max_examples=150, deadline=None)
def test_diagnosis_invariants_on_random_ticks(segments, remote_on, all_off):
    """Whatever the tick's facts: the pre-alarm is on exactly while a code that
    drives it is active; a row with the lead becomes active only once the
    pre-alarm has been on for the lead (or a reading is decided at once); a row
    that latches clears only after a recharge or a user action; nothing judged
    on readings clears on stale data; every withdrawn port carries its reasons
    and every allowed one none. A reading with batteries the previous one lacked
    skips the lead only for A-B01, and only when a new battery's own cell is
    past its trip."""
    d = Drive()
    d.remote_on = remote_on
    d.all_off = all_off
    lead = d.s.ms("pre_alarm_lead_s")
    uv_trip = d.s.mv("cell_uv_trip_v")
    for (n, dt, base, lo, hi, dc, stale, complete, at_once, link, soc, ma, user, fault, mask,
         cap) in segments:
        bank = make_bank(cells_mv=(base, lo, hi, base), temps_dc=(200, dc), n=2, flags=[0, 2 if fault else 0])
        for k in range(4):
            bank.cell_mv[B.MAX_CELLS + k] = base          # battery 2: no lowest or highest cell
        bank.compute_aggregates()
        new_min = (min(lo, base) if mask[0] else base) if mask else None     # the new batteries' lowest cell
        kw = {"capacity_ah": cap} if ma is None else {"current_ma": ma, "capacity_ah": cap}
        for k in range(n):
            before = bytes(d.active)
            acted = user and k == 0
            if acted:
                d.d.user_action()
            new = bank if k == 0 else None
            d.tick(dt, bank=new, fresh=new is not None, stale=stale, complete=complete,
                   at_once=at_once and k == 0, link_state=link, soc_pct10=soc,
                   new=mask if new is not None else None, **kw)
            a = d.active
            pre = any(a[c] and C.flags(c) & C.F_PRE_ALARM for c in range(C.N_CODES))
            assert d.d.pre_alarm == pre
            decided_at_once = (at_once and k == 0) or (new is not None and before[C.A_B05])
            for c in range(C.N_CODES):
                data = is_data_row(C.detector(c))
                if a[c] and not before[c] and C.flags(c) & C.F_LEAD:
                    its_own = c == C.A_B01 and new is not None and mask is not None and new_min < uv_trip
                    assert d.d.pre_ms >= lead or (data and decided_at_once) or its_own, C.text(c)
                if before[c] and not a[c]:
                    if C.flags(c) & C.F_RECHARGE:
                        assert d.d.recharged or acted, C.text(c)
                    if data and stale and not (acted and C.flags(c) & C.F_RECHARGE):
                        pytest.fail("%s cleared on stale data" % C.text(c))
            check_reasons(d.st, a, d.startup, remote_on, all_off)
