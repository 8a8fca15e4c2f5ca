"""Alternator port (behaviour §3; Smart BMS 12/200): when it may conduct, the
current limit in force, and the regulator that drives its MOSFET gate.

Once per tick, after decide, ``AlternatorPort.update`` takes the port's
permission (ATC, remote on/off, A-B15: ``status.allowed[PORT_ALT]``) and the
port's sensors, and sets ``duty`` (gate PWM, 0..65535). The port conducts only
when it is permitted, the input (alternator / starter battery) has been above
``alternator_min_input_v`` (13 V) for ``INPUT_ON_MS``, the input is above the
lithium voltage (one-way: it opens at once when it is not), and the bank has not
reached ``charge_limit_v`` (then it stays open until the bank has been
``charge_resume_margin_v`` below for ``charge_resume_s``: 0.5 V, 10 s).

The limit: the fuse row's (``FUSES``), capped by ``belt_limit_pct``, derated
linearly above ``alternator_temp_derate_c`` (alternator NTC) and above
``bms_temp_derate_c`` (the BMS's MOSFET NTC); ``regulator.Regulator`` holds the
port current at or under it. A soft opening (permission withdrawn, charge limit,
input gone, alternator hot) ramps the duty to 0: an abrupt opening under load is
a load dump for the alternator. Reverse flow, a missing sensor and an
over-current (A-A12, ``trip.PortTrip``) open at once. Integers only, no clock,
no allocation per tick. Reasons: docs/alternator.md.
"""
from micropython import const

from ntc import SENSOR_OPEN, SENSOR_SHORT
from regulator import Regulator
from trip import PortTrip

# Fuse table (behaviour §3): fuse, maximum alternator current (A), and the fuse's
# typical resistance in µΩ (project: the fuse is the current shunt; the
# fuse_cal_pct setting trims it to the installed one).
FUSES = (
    ("125A", 100, 450), ("100A", 90, 550), ("80A", 60, 700), ("60A", 50, 950), ("2x30A", 40, 1250),
    ("2x20A", 25, 1900), ("2x15A", 20, 2600), ("2x10A", 12, 4000), ("2x7.5A", 9, 5500),
)

ALT_OFF = const(0)            # not permitted: the port's reasons say why
ALT_NO_INPUT = const(1)       # input at or below alternator_min_input_v (engine off)
ALT_REVERSE = const(2)        # input not above the lithium voltage (one-way)
ALT_CHARGE_LIMIT = const(3)   # the bank reached charge_limit_v
ALT_HOT = const(4)            # alternator above alternator_temp_max_c
ALT_TRIPPED = const(5)        # over-current: A-A12, retry policy
ALT_NO_SENSOR = const(6)      # the board lacks the input, lithium or current sensor
ALT_ON = const(7)
ALT_LIMIT_ZERO = const(8)     # the derated limit is 0 (at a temperature maximum)
STATE_NAMES = ("off", "no input", "input not above bank", "charge limit", "alternator hot", "tripped", "no sensor", "on",
               "limit 0")

LIMIT_FUSE = const(0)
LIMIT_BELT = const(1)
LIMIT_ALT_TEMP = const(2)
LIMIT_ALT_SENSOR = const(3)   # alternator NTC open: half the limit; shorted: open the port
LIMIT_BMS_TEMP = const(4)
LIMIT_CHARGE = const(5)       # at the charge limit: none
LIMIT_BMS_SENSOR = const(6)   # BMS NTC open (or colder than it shows): half the limit
LIMIT_RATING = const(7)       # the model's port rating (BMS 12/200: 80 A) is below the fuse row's
LIMIT_NAMES = ("fuse", "belt", "alternator temperature", "alternator sensor fault", "BMS temperature",
               "charge limit", "BMS sensor fault", "port rating")

INPUT_ON_MS = const(2000)       # the input must stay above 13 V this long before the port closes
INPUT_OFF_MS = const(500)       # ... and at or below it this long before it opens (the floor acts first)
REVERSE_MARGIN_MV = const(20)   # conducting: open unless the input is this far above the bank ...
REVERSE_TICKS = const(2)        # ... on 2 ticks in a row (a reverse current opens at once)
FORWARD_MARGIN_MV = const(100)  # open: close only when the input is this far above the bank
LIMIT_CONFIRM_MS = const(300)   # the bank must hold at the charge limit this long (a noise spike is not it)
OVERCURRENT_PCT = const(150)    # of the fuse row's limit, for OVERCURRENT_MS: A-A12
OVERCURRENT_MS = const(200)
REVERSE_PCT = const(5)          # a reverse current of this share of the limit opens at once; a
                                # forward one this big overrules the voltages


class AlternatorPort:
    """After ``update``: ``duty`` (0..65535), ``on`` (the gate is driven),
    ``state`` (``ALT_*``), ``current_ma`` (+ = into the bank), ``limit_ma`` and
    ``limit_why`` (``LIMIT_*``), ``fuse_limit_ma`` (the fuse row's limit, capped
    at the model's ``rating_ma``), ``pct`` (current as % of it), ``floor`` (the input floor is what holds the current back),
    ``trip`` (``trip.PortTrip``)."""

    def __init__(self, settings, rating_ma=100000):
        self.settings = settings
        self.rating_ma = rating_ma      # the model's port rating (models, behaviour §12)
        self._rated = False
        self.trip = PortTrip(settings)
        self.duty = 0
        self.on = False
        self.state = ALT_OFF
        self.current_ma = 0
        self.limit_ma = 0
        self.limit_why = LIMIT_FUSE
        self.fuse_limit_ma = 0
        self.pct = 0
        self.floor = False
        self.reg = Regulator()
        self._in_ms = -1            # time the input has been above (>= 0) the minimum
        self._low_ms = -1           # ... or at or below it
        self._input_ok = False
        self._lim_ms = -1
        self._resume_ms = -1
        self.at_limit = False
        self.hot = False
        self._rev_n = 0
        self._over_ms = -1
        self._version = -1

    def _load(self):
        s = self.settings
        name = s.get("fuse_type")
        for row in FUSES:
            if row[0] == name:
                self.fuse_limit_ma = row[1] * 1000
                self._rated = self.fuse_limit_ma > self.rating_ma
                if self._rated:
                    self.fuse_limit_ma = self.rating_ma
                self._r_uohm = row[2] * s.get("fuse_cal_pct") // 100
        self._belt_pct = s.get("belt_limit_pct")
        self._min_in_mv = s.mv("alternator_min_input_v")
        self._limit_mv = s.mv("charge_limit_v")
        self._margin_mv = s.mv("charge_resume_margin_v")
        self._resume_need = s.ms("charge_resume_s")
        self.reg.min_in_mv = self._min_in_mv
        self.reg.r_uohm = self._r_uohm
        self._alt_derate = s.deci_c("alternator_temp_derate_c")
        self._alt_max = s.deci_c("alternator_temp_max_c")
        self._bms_derate = s.deci_c("bms_temp_derate_c")
        self._bms_max = s.deci_c("bms_temp_max_c")
        self._version = s.version

    def user_action(self):
        self.trip.user_action()

    def update(self, dt, permitted, in_mv, li_mv, drop_uv, alt_dc, bms_dc):
        """One tick. ``permitted``: the port's permission; ``in_mv``: input
        voltage, ``li_mv``: lithium voltage (mV); ``drop_uv``: the voltage across
        the fuse (µV, + = into the bank); ``alt_dc`` / ``bms_dc``: temperatures
        (0.1 °C, ``ntc.SENSOR_OPEN`` / ``SENSOR_SHORT``). Sensors the board
        lacks are ``None``."""
        if self._version != self.settings.version:
            self._load()
        sensed = in_mv is not None and li_mv is not None and drop_uv is not None
        cur = drop_uv * 1000 // self._r_uohm if drop_uv is not None else 0
        self.current_ma = cur
        fuse = self.fuse_limit_ma
        self.pct = cur * 100 // fuse
        self._limit(alt_dc, bms_dc)
        if sensed:
            self._input(dt, in_mv)
            self._charge_limit(dt, li_mv)
        trip = self.trip
        trip.update(dt, self.duty > 0)
        hard = True
        if not sensed:
            state = ALT_NO_SENSOR
        elif trip.tripped:
            state = ALT_TRIPPED
        elif self._overcurrent(dt, cur, fuse):
            trip.trip()
            state = ALT_TRIPPED
        elif cur < -(self.limit_ma * REVERSE_PCT // 100) - 500 or (
                self.duty and self._reverse_v(in_mv < li_mv + REVERSE_MARGIN_MV
                                              and cur * 100 < self.limit_ma * REVERSE_PCT)):
            # Conducting the wrong way, or about to: open at once. A reverse current
            # measured while open (a sensor offset, a leaking diode) never closes it.
            state = ALT_REVERSE
        elif not self._input_ok:
            state = ALT_NO_INPUT      # a conducting port ramps open (the floor has cut it already)
            hard = False
        elif in_mv < li_mv + FORWARD_MARGIN_MV and not self.duty:
            state = ALT_REVERSE       # open: the input is not far enough above the bank to close
        else:
            hard = False
            if not permitted:
                state = ALT_OFF
            elif self.at_limit:
                state = ALT_CHARGE_LIMIT
            elif self.hot:
                state = ALT_HOT
            elif self.limit_ma <= 0:
                state = ALT_LIMIT_ZERO
            else:
                state = ALT_ON
        reg = self.reg
        if state == ALT_ON:
            reg.run(dt, cur, in_mv, li_mv, self.limit_ma, self.state != ALT_ON)
        else:
            reg.open(dt, hard)
        self.duty = reg.duty
        self.floor = reg.floor
        if self.duty == 0 and self._low_ms >= 0:
            # Open with the input low: the next closing waits for INPUT_ON_MS above
            # the minimum again (a low input that opened the port another way, e.g.
            # as reverse, must not leave a stale "input ok" behind).
            self._input_ok = False
        if self.at_limit:
            self.limit_ma = 0
            self.limit_why = LIMIT_CHARGE
        self.state = state
        self.on = self.duty > 0

    def _limit(self, alt_dc, bms_dc):
        fuse = self.fuse_limit_ma
        lim = fuse * self._belt_pct // 100
        why = LIMIT_BELT if lim < fuse else (LIMIT_RATING if self._rated else LIMIT_FUSE)
        base = lim
        if alt_dc is not None:
            if alt_dc == SENSOR_OPEN or alt_dc == SENSOR_SHORT:
                # Open (or colder than it shows): half the limit, and a hot
                # alternator stays hot until a reading says otherwise; shorted (or
                # hotter than it shows): as hot.
                if alt_dc == SENSOR_SHORT:
                    self.hot = True
                cap = base // 2
                if cap < lim:
                    lim, why = cap, LIMIT_ALT_SENSOR
            else:
                if alt_dc > self._alt_max:
                    self.hot = True
                elif alt_dc <= self._alt_derate:
                    self.hot = False
                cap = _derate(base, alt_dc, self._alt_derate, self._alt_max)
                if cap < lim:
                    lim, why = cap, LIMIT_ALT_TEMP
        if bms_dc is not None and bms_dc != SENSOR_SHORT:      # a short is A-B15 (detect.py)
            cap = base // 2 if bms_dc == SENSOR_OPEN else _derate(base, bms_dc, self._bms_derate, self._bms_max)
            if cap < lim:
                lim, why = cap, (LIMIT_BMS_SENSOR if bms_dc == SENSOR_OPEN else LIMIT_BMS_TEMP)
        self.limit_ma = lim
        self.limit_why = why

    def _input(self, dt, in_mv):
        # Time above / at-or-below the minimum, from the first tick of each (0).
        if in_mv > self._min_in_mv:
            self._in_ms = 0 if self._in_ms < 0 else _sat(self._in_ms + dt)
            self._low_ms = -1
            if self._in_ms >= INPUT_ON_MS:
                self._input_ok = True
        else:
            self._low_ms = 0 if self._low_ms < 0 else _sat(self._low_ms + dt)
            self._in_ms = -1
            if self._low_ms >= INPUT_OFF_MS or self.duty == 0:
                self._input_ok = False

    def _charge_limit(self, dt, li_mv):
        if not self.at_limit:
            # Up/down: time at or above the limit counts fully, time below takes a
            # quarter back (a bank creeping up through ADC noise reaches it; a
            # single spike does not).
            if li_mv >= self._limit_mv:
                self._lim_ms = 0 if self._lim_ms < 0 else self._lim_ms + dt
                if self._lim_ms >= LIMIT_CONFIRM_MS:
                    self.at_limit = True
                    self._resume_ms = -1
            elif self._lim_ms >= 0:
                self._lim_ms -= dt // 4
                if self._lim_ms < 0:
                    self._lim_ms = -1
        elif li_mv <= self._limit_mv - self._margin_mv:
            self._resume_ms = 0 if self._resume_ms < 0 else _sat(self._resume_ms + dt)
            if self._resume_ms >= self._resume_need:
                self.at_limit = False
                self._lim_ms = -1
        else:
            self._resume_ms = -1

    def _reverse_v(self, low):
        # The input not above the bank, with (almost) no current forward: on
        # REVERSE_TICKS ticks in a row. Two noisy voltages are compared; a healthy
        # forward current says they are noise, and a current already flowing back
        # needs no second look.
        self._rev_n = self._rev_n + 1 if low else 0
        return self._rev_n >= REVERSE_TICKS

    def _overcurrent(self, dt, cur, fuse):
        if self.duty and cur > fuse * OVERCURRENT_PCT // 100:
            self._over_ms = 0 if self._over_ms < 0 else self._over_ms + dt
            return self._over_ms >= OVERCURRENT_MS
        self._over_ms = -1
        return False

def _derate(base, t, start, end):
    """``base`` falling linearly from ``start`` to 0 at ``end`` (0.1 °C)."""
    if t <= start:
        return base
    if t >= end:
        return 0
    return base * (end - t) // (end - start)


def _sat(ms):
    return ms if ms < (1 << 28) else (1 << 28)
