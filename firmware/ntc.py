"""NTC thermistor inputs: a table built once per sensor, integer lookups per tick.

The thermistor sits between the ADC pin and ground, a fixed resistor between the
pin and the supply, so the pin voltage falls as the temperature rises. ``Ntc``
converts a pin voltage (mV) to 0.1 °C by linear interpolation in a table of
``STEP_C`` steps from ``MIN_C`` to ``MAX_C``, computed once with the beta
equation (the only floating point: at start-up, not in the tick); beyond the
table's ends it reads as the end.

Faults: at or above ``OPEN_MV`` the pin is at the ADC's top (the ESP32 at 11 dB
reads about 3.1 V at most): an open wire, or colder than the divider can show
(about -25 °C for 10k/10k), so ``SENSOR_OPEN`` is not an over-temperature. At or
below ``SHORT_MV`` the sensor is shorted or hotter than any table:
``SENSOR_SHORT``, treated as too hot (docs/alternator.md).
"""
import math
from array import array

from micropython import const

SENSOR_OPEN = const(-30000)    # open, or too cold to show (0.1 °C units never reach it)
SENSOR_SHORT = const(-30001)   # shorted, or too hot to show
OPEN_MV = const(3080)
SHORT_MV = const(30)
MIN_C = const(-40)
MAX_C = const(150)
STEP_C = const(5)
_T25_K = 298.15


def pin_mv(temp_c, r25_ohm, beta, series_ohm, supply_mv):
    """The pin voltage (mV, float) at ``temp_c``: the divider's output."""
    r = r25_ohm * math.exp(beta * (1.0 / (temp_c + 273.15) - 1.0 / _T25_K))
    return supply_mv * r / (r + series_ohm)


class Ntc:
    """One sensor: ``r25_ohm`` at 25 °C, ``beta`` (K), ``series_ohm`` to the
    supply of ``supply_mv``. ``dc(mv)`` -> 0.1 °C, ``SENSOR_OPEN`` or ``SENSOR_SHORT``."""

    def __init__(self, r25_ohm, beta, series_ohm, supply_mv):
        n = (MAX_C - MIN_C) // STEP_C + 1
        self.mv = array("i", bytes(4 * n))
        for i in range(n):
            self.mv[i] = int(pin_mv(MIN_C + i * STEP_C, r25_ohm, beta, series_ohm, supply_mv) + 0.5)

    def dc(self, mv):
        t = self.mv
        n = len(t)
        if mv >= OPEN_MV:
            return SENSOR_OPEN
        if mv <= SHORT_MV:
            return SENSOR_SHORT
        if mv >= t[0]:
            return MIN_C * 10
        if mv <= t[n - 1]:
            return MAX_C * 10
        lo = 0
        hi = n - 1
        while hi - lo > 1:            # the table falls with temperature
            mid = (lo + hi) >> 1
            if t[mid] >= mv:
                lo = mid
            else:
                hi = mid
        span = t[lo] - t[hi]
        frac = (t[lo] - mv) * STEP_C * 10 // span if span else 0
        return (MIN_C + lo * STEP_C) * 10 + frac
