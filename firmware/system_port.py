"""System+ port (behaviour §4; Smart BMS 12/200): two gates, one per direction,
a pre-charge path, and the short-circuit latch.

The charge-direction gate follows the port's charge permission
(``status.allowed[PORT_SYS_CHG]``: ATC's codes, remote on/off, A-B15, A-A12), the
discharge-direction gate its discharge permission. A short circuit does not wait
for a tick: the comparator's pin interrupt (``hw.Hardware``) opens every gate at
once and counts; ``protect`` sees the count change at the start of the next tick
and trips the port (A-A12, ``trip.PortTrip``: retries with growing pauses, then
open until a user action).

Inrush: closing the discharge gate onto a discharged capacitive load (an
inverter) would trip the comparator. On a board with a ``system_precharge``
output and a ``system_v`` sense, the port first closes the pre-charge path (a
resistor) and closes the gate once System+ is within ``precharge_margin_v`` of
the lithium voltage; if that takes longer than ``precharge_timeout_s`` (a short,
or a load too heavy for the resistor) the port trips. Without them it closes at
once and the comparator is the inrush protection. Pure logic; no allocation.
"""
from micropython import const

from trip import PortTrip

SYS_OPEN = const(0)
SYS_PRECHARGE = const(1)
SYS_CLOSED = const(2)         # at least one direction conducts
SYS_TRIPPED = const(3)        # open after a trip, waiting for the retry
SYS_LOCKED = const(4)         # open after the last retry failed: a user action releases it
STATE_NAMES = ("open", "pre-charge", "closed", "tripped", "locked")


class SystemPort:
    """After ``update``: ``charge`` / ``discharge`` / ``precharge`` (the gates to
    drive), ``state`` (``SYS_*``), ``trip`` (``trip.PortTrip``),
    ``precharge_ms`` (how long the present pre-charge has run)."""

    def __init__(self, settings, can_precharge):
        self.settings = settings
        self.can_precharge = can_precharge
        self.trip = PortTrip(settings)
        self.charge = False
        self.discharge = False
        self.precharge = False
        self.state = SYS_OPEN
        self.precharge_ms = 0
        self.seen_shorts = 0
        self._want_discharge = False
        self._version = -1

    def _load(self):
        s = self.settings
        self._timeout_ms = s.ms("precharge_timeout_s")
        self._margin_mv = s.mv("precharge_margin_v")
        self._version = s.version

    def protect(self, dt, shorts):
        """Start of the tick: ``shorts`` is the comparator interrupt's count
        (``hw.Hardware.shorts``); a new one trips the port (its gates are
        already open)."""
        if shorts != self.seen_shorts:
            self.seen_shorts = shorts
            self._open()
            self.trip.trip()          # the pause counts from the next tick on
        else:
            # Held: every permitted direction conducts (the discharge side, with
            # its inrush, must have been tested for a retry to count as good).
            self.trip.update(dt, self.discharge or (self.charge and not self._want_discharge))

    def user_action(self):
        self.trip.user_action()

    def update(self, dt, allow_charge, allow_discharge, sys_mv, li_mv):
        """After decide: the gates from the permissions; ``sys_mv`` / ``li_mv``:
        System+ and lithium voltages in mV (``None`` where not sensed)."""
        if self._version != self.settings.version:
            self._load()
        self.charge = allow_charge
        self._want_discharge = allow_discharge
        if not allow_discharge:
            self.discharge = False
            self.precharge = False
            self.precharge_ms = 0
        elif not self.discharge:
            if self.can_precharge and sys_mv is not None and li_mv is not None:
                if sys_mv >= li_mv - self._margin_mv:
                    self.discharge = True          # the pre-charge path opens on the next tick
                elif not self.precharge:
                    self.precharge = True
                    self.precharge_ms = 0
                else:
                    self.precharge_ms += dt
                    if self.precharge_ms >= self._timeout_ms:
                        self._open()
                        self.trip.trip()           # a short or too heavy a load: A-A12
            else:
                self.discharge = True
        else:
            self.precharge = False
            self.precharge_ms = 0
        t = self.trip
        if t.locked:
            self.state = SYS_LOCKED
        elif t.tripped:
            self.state = SYS_TRIPPED
        elif self.precharge:
            self.state = SYS_PRECHARGE
        elif self.charge or self.discharge:
            self.state = SYS_CLOSED
        else:
            self.state = SYS_OPEN

    def _open(self):
        self.charge = False
        self.discharge = False
        self.precharge = False
        self.precharge_ms = 0
