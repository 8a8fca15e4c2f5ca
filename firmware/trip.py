"""The A-A12 retry policy of a power port (behaviour §4; project: docs/alternator.md).

A port that trips (short circuit, overload, inrush, a pre-charge that never
finishes) is open at once. It waits ``system_retry_s`` and retries; if it trips
again before it has held for ``system_stable_s`` the next pause is four times the
last (5 s, 20 s, 80 s by default). After ``system_retries`` failed retries it stays
open until a user action (remote or soft switch off and on,
``diag.reset_alarms()``). A retry that holds ``system_stable_s`` forgets the
earlier trips. Pure logic; no clock, no allocation.
"""


class PortTrip:
    """After ``update``: ``tripped`` (open because of a trip: waiting for a retry
    or locked), ``locked`` (waiting for a user action), ``wait_ms`` (until the
    retry), ``failed`` (trips in the present series), ``trips`` (since boot)."""

    def __init__(self, settings):
        self.settings = settings
        self.tripped = False
        self.locked = False
        self.wait_ms = 0
        self.failed = 0
        self.trips = 0
        self._held_ms = 0
        self._version = -1

    def _load(self):
        s = self.settings
        self._retries = s.get("system_retries")
        self._retry_ms = s.ms("system_retry_s")
        self._stable_ms = s.ms("system_stable_s")
        self._version = s.version

    def trip(self):
        """The port tripped now: open, and schedule the retry (or lock)."""
        if self._version != self.settings.version:
            self._load()
        self.trips += 1
        self.tripped = True
        self._held_ms = 0
        if self.failed >= self._retries:
            self.locked = True
            self.wait_ms = 0
            return
        w = self._retry_ms
        for _ in range(self.failed):
            w *= 4
        self.wait_ms = w
        self.failed += 1

    def update(self, dt, closed):
        """``closed``: the port conducts this tick (counts toward a stable retry)."""
        if self._version != self.settings.version:
            self._load()
        if self.tripped:
            if not self.locked:
                self.wait_ms -= dt
                if self.wait_ms <= 0:
                    self.wait_ms = 0
                    self.tripped = False      # retry: the port may close again
            return
        if closed and self.failed:
            self._held_ms += dt
            if self._held_ms >= self._stable_ms:
                self.failed = 0
                self._held_ms = 0

    def restore(self, tripped, locked, failed):
        """After a reset (``alarm_state``): the port was tripped (or locked) with
        ``failed`` trips in its series; a tripped port waits its full retry again."""
        if self._version != self.settings.version:
            self._load()
        self.failed = failed
        self.locked = locked
        self.tripped = tripped or locked
        w = 0
        if self.tripped and not locked:
            w = self._retry_ms
            for _ in range(failed - 1 if failed > 0 else 0):
                w *= 4
        self.wait_ms = w
        self._held_ms = 0

    def user_action(self):
        """Release a trip or a lock: the port may close on the next tick."""
        self.tripped = False
        self.locked = False
        self.wait_ms = 0
        self.failed = 0
        self._held_ms = 0
