"""Wrap-safe millisecond tick arithmetic, the same on the ESP32 and the host.

MicroPython's ``time.ticks_ms()`` on the ESP32 wraps at 2**30 ms (about 12.4 days):
``MICROPY_PY_TIME_TICKS_PERIOD`` is the positive small-int range of a 32-bit port.
The firmware never compares raw tick values; it only takes differences with
``ticks_diff`` and never trusts a difference beyond half a period.
"""

TICKS_PERIOD = 1 << 30
# 2**30 itself is not a small int on a 32-bit port (small ints end at 2**30 - 1), so
# the arithmetic below never forms it: every intermediate stays a small int and
# nothing is allocated on the heap.
_TICKS_MAX = (1 << 30) - 1
_TICKS_HALF = 1 << 29


def ticks_add(ticks, delta_ms):
    """Return ``ticks + delta_ms`` wrapped into ``[0, TICKS_PERIOD)``.

    ``ticks`` in ``[0, TICKS_PERIOD)``, ``|delta_ms| < TICKS_PERIOD / 2``.
    """
    t = (ticks - _TICKS_MAX) + delta_ms      # in (-2**30, 2**29]
    if t > 0:
        return t - 1
    return t + _TICKS_MAX


def ticks_diff(end, start):
    """Signed difference ``end - start`` in ms, correct across one wrap.

    The result lies in ``[-TICKS_PERIOD/2, TICKS_PERIOD/2)``, as MicroPython's.
    """
    d = end - start                          # in (-2**30, 2**30)
    if d >= _TICKS_HALF:
        return (d - _TICKS_MAX) - 1
    if d < -_TICKS_HALF:
        return (d + _TICKS_MAX) + 1
    return d
