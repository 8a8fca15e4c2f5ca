"""The alternator port's regulator: the MOSFET gate's PWM duty from the port
current (docs/alternator.md, "Regulation").

A velocity-form PI on the error as a share of the limit, its gain scheduled on
the square root of the limit (a MOSFET in saturation passes a current that grows
with the square of its gate overdrive, so the port's gain relative to the limit
falls with the square root of the current). Below the MOSFETs' threshold no
current flows: the duty climbs at ``RATE_SEARCH`` until it does, and the next
closing starts just below where it began (learned). Anti-windup: the duty is
clamped to 0..65535, and while the MOSFETs are fully on (less than ``HOLD_MV``
across them) it backs off instead of rising. An input floor caps the current
when the alternator cannot deliver. A soft opening ramps the duty to 0 over
``RAMP_MS``. Gains tuned on host_tools/sim/plant.py and checked over a 16x
spread of MOSFET transconductance (tests/test_regulation.py). Integers only, no
allocation.
"""
from micropython import const

DUTY_MAX = const(65535)
RAMP_MS = const(500)            # a soft opening takes this long
FLOOR_MARGIN_MV = const(300)    # the input floor: this far above the minimum (13.3 V) ...
FLOOR_BAND_MV = const(100)      # ... the current may rise again once the input is this far above it
FLOOR_CUT_PCT = const(85)       # below the floor: cap the current at this share of what flows
FLOOR_CUT_MIN_PCT = const(50)   # at or under the minimum (13 V): at this share
FLOOR_RISE_PCT10 = const(20)    # above it: raise the cap by 2 % of the limit per second ...
FLOOR_RISE_MAX_PCT10 = const(320)  # ... doubling each second, up to 32 % per second
LEARN_PCT = const(3)            # the duty where the current first reaches this share ...
LEARN_BELOW = const(4000)       # ... less this (6 % of full: 0.6 V of gate) starts the next closing
KI = const(5)                   # duty per 0.1 % of error per tick, at a 100 A limit
KP = const(1)                   # duty per 0.1 % change of the error, at a 100 A limit
ISQ_REF_MA = const(316)         # sqrt(100 000 mA): the gains' reference
GAIN_FLOOR_MA = const(5000)     # targets below this are regulated with this one's gain
RATE_SEARCH = const(3000)       # duty per tick while no current flows yet (4.6 % of full)
HOLD_MV = const(100)            # below this across the MOSFETs they are fully on: no more gate ...
BACKOFF = const(300)            # ... and the duty backs off this much per tick
FULL_ON_CUT_PM = const(50)      # fully on and over the target by more than 5 %: down at RATE_DOWN
RATE_UP = const(4000)           # duty per tick, at most
RATE_DOWN = const(6500)



class Regulator:
    """``duty`` (0..65535), ``floor`` (the input floor holds the current back);
    ``min_in_mv`` and ``r_uohm`` (the fuse's resistance) are set by the port."""

    def __init__(self):
        self.duty = 0
        self.floor = False
        self.min_in_mv = 13000
        self.r_uohm = 450
        self._start_duty = 0
        self._learned = False
        self._isq_lim = -1
        self._isq = 0
        self._cap_ma = 0
        self._rise_ms = 0
        self._rise_pct10 = FLOOR_RISE_PCT10
        self._e_prev = 0
        self._ramp_ms = 0
        self._ramp_from = 0

    def _floor_cap(self, dt, cur, in_mv, lim):
        # The input floor, as a cap on the current: cut to FLOOR_CUT_PCT of the
        # present current whenever the input is below the floor (the alternator
        # gives less than the port takes, the starter battery would make up the
        # rest), raised again while the input is clear above it. A current
        # source's voltage is a cliff, not a slope: a proportional loop on it
        # would chatter.
        floor = self.min_in_mv + FLOOR_MARGIN_MV
        cap = self._cap_ma
        if in_mv >= floor + FLOOR_BAND_MV and cap < lim:
            # Rising: the rate doubles each second the input stays clear of the
            # floor (an engine speeding up), back to the start on any sag.
            cap += lim * self._rise_pct10 * dt // 1000000
            self._rise_ms += dt
            if self._rise_ms >= 1000:
                self._rise_ms = 0
                if self._rise_pct10 < FLOOR_RISE_MAX_PCT10:
                    self._rise_pct10 *= 2
        else:
            self._rise_ms = 0
            self._rise_pct10 = FLOOR_RISE_PCT10
            if in_mv < floor:
                # At or under the minimum itself (13 V) the cut is deeper.
                c = cur * (FLOOR_CUT_PCT if in_mv > self.min_in_mv else FLOOR_CUT_MIN_PCT) // 100
                if c < cap:
                    cap = c
        self._cap_ma = cap if cap < lim else lim
        if self._cap_ma < 0:
            self._cap_ma = 0
        return self._cap_ma

    def run(self, dt, cur, in_mv, li_mv, lim, entering):
        """One tick in control: ``cur`` the port current (mA), ``in_mv`` /
        ``li_mv`` input and lithium voltages, ``lim`` the limit in force (mA);
        ``entering``: the first tick after the port was open."""
        if entering:
            self._cap_ma = lim
        target = self._floor_cap(dt, cur, in_mv, lim)
        self.floor = target < lim
        # The error as a share of the target (the limit, or the floor's cap), and
        # the gain scheduled on its square root: the port's gain (A per duty)
        # relative to the current falls with the square root of the current.
        ref = target if target > GAIN_FLOOR_MA else GAIN_FLOOR_MA
        e = (target - cur) * 1000 // ref if lim > 0 else -1000
        e = -1000 if e < -1000 else (1000 if e > 1000 else e)
        if entering:
            # Closing: start well below where the current began last time, and
            # learn it afresh (the MOSFETs' threshold falls as they warm): no step
            # on top, this tick's current was measured with the port open. Never
            # learned: the search's first step.
            self._e_prev = e
            self._ramp_ms = 0
            self._learned = False
            if self._start_duty == 0 and self.duty == 0:
                self.duty = RATE_SEARCH
            elif self.duty < self._start_duty:
                self.duty = self._start_duty
            return
        if e > 0 and cur * 100 < target * LEARN_PCT:
            step = RATE_SEARCH        # below the MOSFETs' threshold: find it quickly
        else:
            if ref != self._isq_lim:
                self._isq_lim = ref
                self._isq = _isqrt(ref)
            step = (KP * (e - self._e_prev) + KI * e) * self._isq // ISQ_REF_MA
            # Anti-windup: with less than HOLD_MV across the MOSFETs they are fully
            # on and more gate adds no current (the alternator or the bank sets
            # it). Back the gate off toward the edge where it takes control again,
            # so an engine speeding up meets a gate set for about this current,
            # not for the limit.
            if in_mv - li_mv - cur * self.r_uohm // 1000000 < HOLD_MV:
                if step > 0:
                    step = -BACKOFF
                elif e < -FULL_ON_CUT_PM:
                    # Well over the target while fully on (the floor cut the cap
                    # after the alternator's output fell): the first part of the
                    # duty's way down changes nothing, so take it at full rate.
                    step = -RATE_DOWN
        self._e_prev = e
        if step > RATE_UP:
            step = RATE_UP
        elif step < -RATE_DOWN:
            step = -RATE_DOWN
        if not self._learned and lim > 0 and cur * 100 >= lim * LEARN_PCT:
            # Where the MOSFETs began to conduct (the duty that gave this current):
            # the next closing starts just below it.
            self._learned = True
            s = self.duty - LEARN_BELOW
            self._start_duty = s if s > 0 else 0
        d = self.duty + step
        self.duty = 0 if d < 0 else (DUTY_MAX if d > DUTY_MAX else d)

    def open(self, dt, hard):
        """One tick opening: at once (``hard``) or ramped over ``RAMP_MS``."""
        self.floor = False
        if hard or self.duty == 0:
            self.duty = 0
            self._ramp_ms = 0
            return
        if self._ramp_ms == 0:
            self._ramp_from = self.duty
        self._ramp_ms += dt
        left = RAMP_MS - self._ramp_ms
        self.duty = self._ramp_from * left // RAMP_MS if left > 0 else 0
        if self.duty == 0:
            self._ramp_ms = 0


def _isqrt(n):
    """Integer square root of ``n`` >= 0 (Newton; small ints only)."""
    if n < 2:
        return n
    x = n
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x
