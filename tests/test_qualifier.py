"""firmware/qualifier.py: the one up/down counter every diagnosis row goes through."""
import pytest
from hypothesis import given, settings as hsettings, strategies as st

import host_tools

host_tools.use_firmware()
import qualifier as Q  # noqa: E402
from qualifier import BAND, CLEAR, HARD, HOLD, TRIP, Qualifier  # noqa: E402

DELAY = 1000
CLEAR_MS = 2000


def activate(q, slot=0):
    """Make a slot active the way the caller does: on a tripping tick."""
    assert q.step(slot, HARD, 100, DELAY, CLEAR_MS, False, False)
    q.set_active(slot)


def steps(q, states, dt=100, delay=DELAY, clear=CLEAR_MS, stale=False, at_once=False, slot=0):
    """Feed ``states`` one per tick; return the tick index at which the slot went
    active (the caller's ``set_active`` done here), or None."""
    went = None
    for k, s in enumerate(states):
        if q.step(slot, s, dt, delay, clear, stale, at_once) and went is None:
            q.set_active(slot)
            went = k
    return went


def test_starts_inactive_with_zero_counters():
    q = Qualifier(3)
    assert list(q.active) == [0, 0, 0] and list(q.count_ms) == [0, 0, 0]


def test_a_trip_qualifies_after_exactly_its_delay_from_the_first_tick_it_is_seen():
    q = Qualifier(1)
    assert q.step(0, TRIP, 0, DELAY, CLEAR_MS, False, False) == 0     # first tick: counted from here
    assert q.step(0, TRIP, 999, DELAY, CLEAR_MS, False, False) == 0
    assert q.count_ms[0] == 999
    assert q.step(0, TRIP, 1, DELAY, CLEAR_MS, False, False) == 1
    assert q.active[0] == 0                                           # the caller decides
    q.set_active(0)
    assert q.active[0] == 1 and q.count_ms[0] == 0


@pytest.mark.parametrize("dt", [1, 7, 100, 333])
def test_the_delay_is_exact_to_the_tick_for_any_tick_length(dt):
    q = Qualifier(1)
    k = steps(q, [TRIP] * 5000, dt=dt)
    assert k * dt >= DELAY and (k - 1) * dt < DELAY


def test_a_delay_of_zero_trips_on_the_first_reading():
    q = Qualifier(1)
    assert q.step(0, TRIP, 100, 0, 0, False, False) == 1


def test_hard_trips_at_once_whatever_the_delay():
    q = Qualifier(1)
    assert q.step(0, HARD, 100, 60000, CLEAR_MS, False, False) == 1
    assert q.count_ms[0] == 60000


def test_hard_trips_at_once_even_on_stale_data():
    q = Qualifier(1)
    assert q.step(0, HARD, 100, 60000, CLEAR_MS, True, False) == 1


def test_at_once_decides_a_trip_without_its_delay_but_not_a_band():
    q = Qualifier(2)
    assert q.step(0, TRIP, 0, 5000, CLEAR_MS, False, True) == 1
    assert q.step(1, BAND, 0, 5000, CLEAR_MS, False, True) == 0


@pytest.mark.parametrize("state", [CLEAR, BAND])
def test_counts_down_at_a_quarter_of_the_rate_below_the_trip(state):
    q = Qualifier(1)
    steps(q, [TRIP] * 9, delay=5000)                   # 8 counted ticks: 800 ms
    assert q.count_ms[0] == 800
    q.step(0, state, 100, 5000, CLEAR_MS, False, False)
    assert q.count_ms[0] == 800 - 100 // Q.DOWN_RATIO
    for _ in range(100):
        q.step(0, state, 100, 5000, CLEAR_MS, False, False)
    assert q.count_ms[0] == 0                          # never below zero


def test_hold_and_stale_data_keep_the_count():
    q = Qualifier(1)
    steps(q, [TRIP] * 9, delay=5000)
    q.step(0, HOLD, 100, 5000, CLEAR_MS, False, False)
    assert q.count_ms[0] == 800
    q.step(0, CLEAR, 100, 5000, CLEAR_MS, True, False)
    q.step(0, BAND, 100, 5000, CLEAR_MS, True, False)
    assert q.count_ms[0] == 800


def test_stale_trip_data_keeps_counting_up():
    """A value known to be past its trip is not forgotten because no newer one came."""
    q = Qualifier(1)
    assert steps(q, [TRIP] * 20, stale=True) == 10


def test_the_count_is_bounded_by_the_delay():
    """A long trip that the caller does not act on (the pre-alarm lead) is not
    stored up: the count stays at the delay, and a quarter-rate count down then
    takes four delays, not forever."""
    q = Qualifier(1)
    for _ in range(1000):
        q.step(0, TRIP, 100, DELAY, CLEAR_MS, False, False)
    assert q.count_ms[0] == DELAY
    for _ in range(40):
        q.step(0, CLEAR, 100, DELAY, CLEAR_MS, False, False)
    assert q.count_ms[0] == 0


def test_a_chopped_trip_signal_still_trips():
    """On 4 ticks, off 1: a plain restarting delay timer would never reach 1 s."""
    q = Qualifier(1)
    pattern = ([TRIP] * 4 + [BAND]) * 20
    k = steps(q, pattern)
    assert k is not None and k < 40


def test_a_brief_trip_among_long_clear_periods_never_trips():
    q = Qualifier(1)
    assert steps(q, ([TRIP] * 2 + [CLEAR] * 8) * 200) is None


@given(st.integers(1, 30), st.integers(1, 60), st.sampled_from([BAND, CLEAR]),
       st.sampled_from([100, 250]), st.integers(100, 5000))
@hsettings(max_examples=150, deadline=None)
def test_a_periodic_signal_trips_exactly_when_it_gains_per_period(on, off, below, dt, delay):
    """Per period a run of ``on`` trips counts up (on - 1) x dt (the first tick of a
    run starts it) and ``off`` ticks below the trip count down off x dt / 4. The
    slot trips if one run reaches the delay or the net gain is positive (then
    within delay / gain + 1 periods); otherwise it never does."""
    q = Qualifier(1)
    up = (on - 1) * dt
    down = off * (dt // Q.DOWN_RATIO)
    periods = delay // max(1, up - down) + 2 if up > down else 30
    k = steps(q, ([TRIP] * on + [below] * off) * periods, dt=dt, delay=delay)
    if up >= delay or up > down:
        assert k is not None
    else:
        assert k is None


def test_active_clears_after_its_clear_time_of_unbroken_clear():
    q = Qualifier(1)
    activate(q)
    assert q.step(0, CLEAR, 100, DELAY, CLEAR_MS, False, False) == 0      # first clear tick: start
    for _ in range(19):
        q.step(0, CLEAR, 100, DELAY, CLEAR_MS, False, False)
    assert q.active[0] == 1 and q.count_ms[0] == 1900
    q.step(0, CLEAR, 100, DELAY, CLEAR_MS, False, False)
    assert q.active[0] == 0 and q.count_ms[0] == 0


def test_a_trip_restarts_the_clear_time_and_band_or_hold_hold_it():
    q = Qualifier(1)
    activate(q)
    steps(q, [CLEAR] * 11)
    assert q.count_ms[0] == 1000
    steps(q, [BAND, HOLD])
    assert q.count_ms[0] == 1000 and q.active[0]
    steps(q, [CLEAR])                  # the first clear after a break starts counting again
    assert q.count_ms[0] == 1000
    steps(q, [CLEAR, HARD])
    assert q.count_ms[0] == 0 and q.active[0]
    steps(q, [CLEAR, CLEAR, TRIP])
    assert q.count_ms[0] == 0 and q.active[0]


def test_nothing_clears_on_stale_data():
    q = Qualifier(1)
    activate(q)
    steps(q, [CLEAR] * 100, stale=True)
    assert q.active[0] == 1 and q.count_ms[0] == 0


def test_a_clear_time_of_zero_clears_on_the_first_clear_reading():
    q = Qualifier(1)
    activate(q)
    q.step(0, BAND, 100, DELAY, 0, False, False)
    assert q.active[0] == 1
    q.step(0, CLEAR, 100, DELAY, 0, False, False)
    assert q.active[0] == 0


def test_the_clear_counter_saturates():
    q = Qualifier(1)
    activate(q)
    q.step(0, CLEAR, 0, DELAY, 1 << 30, False, False)
    for _ in range(3):
        q.step(0, CLEAR, 1 << 27, DELAY, 1 << 30, False, False)
    assert q.count_ms[0] == Q.SATURATE_MS and q.active[0] == 1


def test_an_active_slot_reports_nothing_to_trip():
    q = Qualifier(1)
    activate(q)
    assert q.step(0, HARD, 100, DELAY, CLEAR_MS, False, True) == 0


def test_reset_makes_a_slot_inactive_and_forgets_its_count():
    q = Qualifier(1)
    activate(q)
    steps(q, [CLEAR] * 5)
    q.reset(0)
    assert q.active[0] == 0 and q.count_ms[0] == 0
    # ...and the next trip is judged afresh: its delay from its first tick
    assert steps(q, [TRIP] * 20) == 10


def test_slots_are_independent():
    q = Qualifier(3)
    steps(q, [TRIP] * 20, slot=1)
    assert list(q.active) == [0, 1, 0] and q.count_ms[0] == 0 and q.count_ms[2] == 0


def test_counters_are_integers():
    q = Qualifier(2)
    steps(q, [TRIP, TRIP, BAND, CLEAR, HARD], dt=37)
    assert q.count_ms.typecode == "i"
    assert all(type(v) is int for v in q.count_ms)
