"""The one qualifier every diagnosis uses: an up/down counter with hard limits.

A detector reports one state per tick (``CLEAR`` past the reset value, ``BAND``
between reset and trip, ``TRIP`` past the trip value, ``HARD`` past the hard
limit, ``HOLD`` nothing to judge). ``Qualifier.step`` turns those states into an
active flag per slot:

- while inactive, the counter counts **up** by the tick's ms while the state is
  ``TRIP`` (from the second tick of a run of trips, so a delay is exact to the
  tick) and **down** at 1/``DOWN_RATIO`` of that rate otherwise. The slot trips
  when the counter reaches the delay. A signal that is past its trip value for
  more than 1/(1 + ``DOWN_RATIO``) of the time therefore trips, however it is
  chopped up; one that restarts a plain delay timer would never trip.
- ``HARD`` trips at once, on one reading.
- while active, the counter counts the ms the state has been ``CLEAR`` without
  a break; the slot clears when it reaches the clear time. Any ``TRIP`` restarts
  it; ``BAND`` and ``HOLD`` hold it.
- stale data (``stale=True``): a ``TRIP`` keeps counting up (a value known to be
  past its trip is not forgotten because no newer one came); nothing counts
  down and nothing clears on old data.

Pure integer logic, no allocation per step. Numbers: docs/protection.md.
"""
from array import array
from micropython import const

CLEAR = const(0)
BAND = const(1)
TRIP = const(2)
HARD = const(3)
HOLD = const(4)

DOWN_RATIO = const(4)          # counts down at a quarter of the rate it counts up
SATURATE_MS = const(1 << 28)   # counters stop here (about 3 days)


class Qualifier:
    """``n`` independent slots. After ``step(i, ...)``: ``active[i]`` (0/1) and
    ``count_ms[i]`` (the up/down counter while inactive, the clear counter while
    active)."""

    def __init__(self, n):
        self.active = bytearray(n)
        self.count_ms = array("i", bytes(4 * n))
        self._prev = bytearray(n)

    def reset(self, i):
        """Slot ``i`` inactive with its counter at zero (a user action, a re-arm)."""
        self.active[i] = 0
        self.count_ms[i] = 0
        self._prev[i] = CLEAR

    def step(self, i, state, dt, delay_ms, clear_ms, stale, at_once):
        """Advance slot ``i`` by ``dt`` ms with this tick's detector ``state``.

        ``delay_ms``: how long ``TRIP`` must be integrated; ``clear_ms``: how long
        ``CLEAR`` must hold while active; ``at_once``: decide a ``TRIP`` now,
        without the delay (the first reading, a battery that came back). Returns
        1 when an inactive slot is qualified to trip (the caller then calls
        ``set_active``, or waits, e.g. for the pre-alarm lead), else 0.
        """
        prev = self._prev[i]
        self._prev[i] = state
        c = self.count_ms[i]
        if self.active[i]:
            if state == TRIP or state == HARD:
                self.count_ms[i] = 0
            elif state == CLEAR and not stale:
                if prev == CLEAR:
                    c += dt
                    if c > SATURATE_MS:
                        c = SATURATE_MS
                self.count_ms[i] = c
                if c >= clear_ms:
                    self.active[i] = 0
                    self.count_ms[i] = 0
            return 0
        if state == HARD or (state == TRIP and at_once):
            c = delay_ms
        elif state == TRIP:
            if prev == TRIP or prev == HARD:
                c += dt
                if c > delay_ms:
                    c = delay_ms     # bounded memory: a long trip is not stored up
        elif not stale and state != HOLD:
            c -= dt // DOWN_RATIO
            if c < 0:
                c = 0
        self.count_ms[i] = c
        if (state == TRIP or state == HARD) and c >= delay_ms:
            return 1
        return 0

    def set_active(self, i):
        """Make slot ``i`` active (its clear counter at zero)."""
        self.active[i] = 1
        self.count_ms[i] = 0
