"""firmware/regulator.py: the alternator gate's duty from the port current, tick
by tick (the closed loop on a plant: tests/test_alternator.py and
tests/test_regulation.py)."""
import pytest
from hypothesis import given, settings as hsettings, strategies as st

import host_tools

host_tools.use_firmware()
import regulator as R  # noqa: E402
from regulator import Regulator  # noqa: E402

LIM = 100000          # mA
IN, LI = 14400, 13200


def test_a_hard_opening_is_0_at_once():
    g = Regulator()
    g.duty = 40000
    g.open(100, True)
    assert g.duty == 0 and not g.floor


def test_a_soft_opening_ramps_linearly_to_0_over_ramp_ms():
    g = Regulator()
    g.duty = 50000
    seen = []
    for _ in range(R.RAMP_MS // 100 + 2):
        g.open(100, False)
        seen.append(g.duty)
    n = R.RAMP_MS // 100
    assert seen == [50000 * (n - k) // n for k in range(1, n + 1)] + [0, 0]


def test_closing_again_during_a_ramp_starts_a_new_ramp_next_time():
    g = Regulator()
    g.duty = 50000
    g.open(100, False)
    g.open(100, False)
    mid = g.duty
    g.run(100, 50000, IN, LI, LIM, True)         # back in control
    d = g.duty
    g.open(100, False)
    assert mid < 50000 and g.duty == d * (R.RAMP_MS - 100) // R.RAMP_MS


def test_with_no_current_the_duty_searches_upward_to_full_and_no_further():
    g = Regulator()
    g.run(100, 0, IN, LI, LIM, True)
    steps = [g.duty]
    for _ in range(60):
        g.run(100, 0, IN, LI, LIM, False)
        steps.append(g.duty)
    assert steps[0] > 0 and all(b >= a for a, b in zip(steps, steps[1:]))
    assert steps[-1] == R.DUTY_MAX


def test_a_current_over_the_limit_drives_the_duty_down_to_0():
    g = Regulator()
    g.duty = 40000
    g.run(100, 150000, IN, LI, LIM, True)
    seen = [g.duty]
    for _ in range(100):
        g.run(100, 150000, IN, LI, LIM, False)
        seen.append(g.duty)
    assert seen[0] == 40000             # the closing tick: its current was measured with the port open
    assert seen[1] < 40000 and all(b <= a for a, b in zip(seen, seen[1:])) and seen[-1] == 0


def test_a_zero_limit_drives_the_duty_down():
    g = Regulator()
    g.duty = 30000
    for _ in range(50):
        g.run(100, 1000, IN, LI, 0, False)
    assert g.duty == 0


def test_an_input_below_the_floor_holds_the_current_back():
    g = Regulator()
    g.duty = 40000
    g.run(100, 50000, IN, LI, LIM, True)
    d = g.duty
    g.run(100, 50000, 13200, 12800, LIM, False)  # the input sags under 13.3 V while 50 A flow
    assert g.floor and g.duty < d


def test_fully_on_mosfets_do_not_wind_the_duty_up():
    g = Regulator()
    g.duty = 60000
    g.run(100, 50000, 13250, 13200, LIM, True)   # 50 mV across the port: fully on, below the limit
    seen = [g.duty]
    for _ in range(20):
        g.run(100, 50000, 13250, 13200, LIM, False)
        seen.append(g.duty)
    assert all(b <= a for a, b in zip(seen, seen[1:])) and seen[-1] < 60000


def test_the_next_closing_starts_near_where_the_current_began():
    g = Regulator()
    g.run(100, 0, IN, LI, LIM, True)
    began = None
    for _ in range(30):
        cur = 0 if g.duty < 20000 else 10000
        if cur and began is None:
            began = g.duty
        g.run(100, cur, IN, LI, LIM, False)
    g.open(100, True)
    g.run(100, 0, IN, LI, LIM, True)
    assert began is not None and 0 < g.duty <= began + R.RATE_SEARCH


@hsettings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-300000, 300000), st.integers(0, 20000), st.integers(0, 20000),
                          st.integers(0, 200000), st.booleans(), st.sampled_from([0, 1, 2])),
                min_size=1, max_size=100))
def test_the_duty_is_always_an_int_within_0_to_65535(seq):
    g = Regulator()
    for cur, in_mv, li_mv, lim, entering, op in seq:
        if op == 0:
            g.run(100, cur, in_mv, li_mv, lim, entering)
        else:
            g.open(100, op == 1)
        assert isinstance(g.duty, int) and 0 <= g.duty <= R.DUTY_MAX
