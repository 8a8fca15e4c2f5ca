"""firmware/ticks.py: wrap-safe tick arithmetic, as MicroPython's."""
from hypothesis import given, strategies as st

import host_tools

host_tools.use_firmware()
from ticks import TICKS_PERIOD, ticks_add, ticks_diff  # noqa: E402

HALF = TICKS_PERIOD // 2


def test_period_is_the_esp32_one():
    assert TICKS_PERIOD == 2 ** 30


def test_across_the_wrap():
    before = TICKS_PERIOD - 50
    after = ticks_add(before, 120)
    assert after == 70
    assert ticks_diff(after, before) == 120
    assert ticks_diff(before, after) == -120


@given(st.integers(0, TICKS_PERIOD - 1), st.integers(-HALF, HALF - 1))
def test_diff_inverts_add(start, delta):
    assert ticks_diff(ticks_add(start, delta), start) == delta
