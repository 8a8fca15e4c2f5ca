"""Wrap-safe millisecond tick arithmetic, the same on the ESP32 and the host.

MicroPython's ``time.ticks_ms()`` on the ESP32 wraps at 2**30 ms (about 12.4 days):
``MICROPY_PY_TIME_TICKS_PERIOD`` is the positive small-int range of a 32-bit port.
The firmware never compares raw tick values; it only takes differences with
``ticks_diff`` and never trusts a difference beyond half a period.
"""

TICKS_PERIOD = 1 << 30
_TICKS_MAX = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD // 2


def ticks_add(ticks, delta_ms):
    """Return ``ticks + delta_ms`` wrapped into ``[0, TICKS_PERIOD)``."""
    return (ticks + delta_ms) & _TICKS_MAX


def ticks_diff(end, start):
    """Signed difference ``end - start`` in ms, correct across one wrap.

    The result lies in ``[-TICKS_PERIOD/2, TICKS_PERIOD/2)``, as MicroPython's.
    """
    return ((end - start + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF
