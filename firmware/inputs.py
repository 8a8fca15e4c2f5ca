"""Input conditioning: the remote on/off terminal and the bank current.

``Remote`` classifies the Remote L / Remote H voltages (behaviour §2), debounces
a change for ``REMOTE_DEBOUNCE_MS`` and ANDs the soft switch. An off-to-on
change of either counts as a deliberate user action (it releases latched
under-voltage withdrawals, docs/protection.md).

``Current`` picks the current the battery monitor counts: the board's shunt on
every tick (calibrated by ``current_zero_offset_a``), else the batteries'
reported current, carried across link gaps for at most ``current_hold_s``.
Pure logic on integers; the hardware layer supplies the raw values.
"""
from micropython import const

REMOTE_DEBOUNCE_MS = const(200)
_FRESH_MS = const(1100)       # a reading younger than one poll period and a tick

# Remote terminal states, for display (behaviour §2).
REMOTE_OFF = const(0)
REMOTE_LOOP = const(1)     # L and H interconnected
REMOTE_L_LOW = const(2)    # L pulled to battery minus
REMOTE_H_HIGH = const(3)   # H pulled high
REMOTE_NAMES = ("off", "L-H loop", "L low", "H high")

SOURCE_NONE = const(0)
SOURCE_SHUNT = const(1)
SOURCE_RECORDS = const(2)
SOURCE_HELD = const(3)
SOURCE_NAMES = ("none", "shunt", "batteries", "held")


class Remote:
    """After ``update``: ``terminal_on``, ``state`` (``REMOTE_*``), ``soft_on``,
    ``on`` (terminal AND soft switch), ``switched_on`` (True on the tick ``on``
    went from off to on)."""

    def __init__(self, settings):
        self.settings = settings
        self.terminal_on = True
        self.soft_on = True
        self.state = REMOTE_OFF
        self.on = True
        self.switched_on = False
        self._raw = True
        self._raw_ms = 0
        self._first = True
        self._version = -1

    def _load(self):
        s = self.settings
        self._l_mv = s.mv("remote_l_on_below_v")
        self._h_mv = s.mv("remote_h_on_above_v")
        self._version = s.version

    def update(self, dt, l_mv, h_mv, bank_mv):
        """``l_mv`` / ``h_mv``: terminal voltages in mV; ``bank_mv`` for display only."""
        if self._version != self.settings.version:
            self._load()
        if h_mv > self._h_mv:
            # L is pulled up to the bank and H down: joined, they meet near half the
            # bank voltage; H wired to plus sits at the bank voltage. Display only.
            joined = l_mv - h_mv < 300 and h_mv - l_mv < 300 and h_mv < bank_mv * 3 // 4
            state = REMOTE_LOOP if joined else REMOTE_H_HIGH
        elif l_mv < self._l_mv:
            state = REMOTE_L_LOW
        else:
            state = REMOTE_OFF
        raw = state != REMOTE_OFF
        if self._first:
            # The first reading is taken as it is: there is no earlier state to hold.
            self._first = False
            self._raw = raw
            self._raw_ms = REMOTE_DEBOUNCE_MS
        elif raw != self._raw:
            self._raw = raw
            self._raw_ms = 0
        elif self._raw_ms < REMOTE_DEBOUNCE_MS:
            self._raw_ms += dt
        if self._raw_ms >= REMOTE_DEBOUNCE_MS:
            self.terminal_on = raw
            self.state = state
        was = self.on
        self.on = self.terminal_on and self.soft_on
        self.switched_on = self.on and not was


class Current:
    """After ``update``: ``ma`` (bank current, + = charging), ``known`` and
    ``source`` (``SOURCE_*``)."""

    def __init__(self, settings, has_shunt):
        self.settings = settings
        self.has_shunt = has_shunt
        self.ma = 0
        self.known = False
        self.source = SOURCE_NONE
        self._version = -1

    def _load(self):
        s = self.settings
        self._offset_ma = s.milli("current_zero_offset_a")
        self._hold_ms = s.ms("current_hold_s")
        self._version = s.version

    def update(self, shunt_raw_ma, bank, complete_age_ms, fresh_complete):
        """``shunt_raw_ma``: the uncalibrated shunt reading (ignored without a
        shunt); ``bank``: the latest reading with batteries or None;
        ``complete_age_ms``: the age of the latest complete reading;
        ``fresh_complete``: ``bank`` is complete and arrived this tick. Only a
        complete reading's current is taken: a missing battery's share of the
        current is not in the others' records."""
        if self._version != self.settings.version:
            self._load()
        if self.has_shunt:
            self.ma = shunt_raw_ma - self._offset_ma
            self.known = True
            self.source = SOURCE_SHUNT
            return
        if fresh_complete:
            self.ma = bank.bank_current_ma
        if self.source != SOURCE_NONE or fresh_complete:
            if complete_age_ms <= self._hold_ms:
                self.known = True
                self.source = SOURCE_RECORDS if complete_age_ms < _FRESH_MS else SOURCE_HELD
                return
        self.known = False
        self.source = SOURCE_NONE
