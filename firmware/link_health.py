"""Link health: is the BMS still watching every battery? (docs/protection.md)

Judged per second of polls, not per answer: the link polls as fast as the wire
allows (``link``), and when it sends the first poll at least ``SLOT_MS`` after the
one that opened the slot, the slot counts as *answered* when a complete reading
(every expected battery) came back in it. At one poll a second a slot is one poll.
The last ``WINDOW`` slots are kept as bits. ``state`` is ``TRIP`` (failing)
when no complete reading came for ``link_lost_warn_s`` or fewer than
``link_warn_answered_pct`` of the window was answered, ``CLEAR`` (healthy) once
a complete reading is recent and at least ``link_clear_answered_pct`` was
answered, ``BAND`` (degraded) between. W-B05 trips on ``TRIP``, A-B05 integrates
it over ``link_lost_alarm_s``; both are held while degraded and clear only on a
healthy link, so a degraded link gives a steady warning and never flicks the
ports. One good answer every 29 s cannot keep the link "healthy", and a link
that loses one second of answers in three stays usable (a warning, never A-B05).

It also tells diagnosis what a reading means: ``fresh``, ``stale`` (older than
``link_lost_warn_s``), ``complete``, ``at_once`` (the first reading: judge it all
at once), ``at_once_new`` (batteries that went unwatched: added since the last
complete reading, or back after more than ``link_lost_warn_s``; flagged in
``new``, their extremes in the bank's ``sel_*``: judge *them* at once) and
E-B32's ``no_battery``. Pure logic:
``update(dt, link, fresh)`` once per tick, no allocation.
"""
from array import array
from micropython import const

from bank import MAX_BATTERIES
from qualifier import BAND, CLEAR, TRIP

WINDOW = const(20)           # judged slots kept: 20 s
SLOT_MS = const(1000)        # polls are judged a second at a time
_MASK = const((1 << 20) - 1)
_SATURATE_MS = const(1 << 28)


class LinkHealth:
    def __init__(self, settings):
        self.settings = settings
        self.expected = 0            # batteries learned (most seen; diag.accept_bank resets)
        self.ever_read = False       # a reading with batteries since boot
        self.empty_ring = False      # the latest reading had no battery
        self.age_ms = 0              # since the latest reading with batteries
        self.complete_age_ms = 0     # since the latest complete reading
        self.boot_ms = 0
        self.history = 0             # bit i: the slot i slots ago was answered
        self.polls = 0               # slots judged (saturates at WINDOW)
        self.answered = 0            # answered slots in the window
        self.complete = False
        self.stale = False
        self.at_once = False         # this reading is the first: judge it all at once
        self.at_once_new = False     # it has batteries the previous lacked (``new``)
        self.new = bytearray(MAX_BATTERIES)
        self.state = CLEAR
        self._answered_now = False
        self._polls_seen = -1
        self._slot_ms = 0
        self._prev_count = 0
        self._prev_hash = array("i", bytes(4 * MAX_BATTERIES))        # the previous reading
        self._complete_count = 0
        self._complete_hash = array("i", bytes(4 * MAX_BATTERIES))    # the last complete one
        self._scratch = bytearray(MAX_BATTERIES)
        self._version = -1

    def _load(self):
        s = self.settings
        self._warn_ms = s.ms("link_lost_warn_s")
        self._warn_n = s.get("link_warn_answered_pct") * WINDOW // 100
        self._clear_n = (s.get("link_clear_answered_pct") * WINDOW + 99) // 100
        self._version = s.version

    def accept_bank(self):
        """Forget the learned battery count (after a battery was removed on purpose)."""
        self.expected = 0

    def update(self, dt, link, fresh):
        if self._version != self.settings.version:
            self._load()
        self.at_once = False
        self.at_once_new = False
        self.boot_ms = _sat(self.boot_ms + dt)
        self.age_ms = _sat(self.age_ms + dt)
        self.complete_age_ms = _sat(self.complete_age_ms + dt)
        self._slot_ms = _sat(self._slot_ms + dt)
        if link.seq != self._polls_seen:
            # A new poll went out (its sequence number changed). The polls are judged
            # a second at a time (SLOT_MS), whatever the poll rate: the slot that
            # ends here was answered when a complete reading came back in it.
            if self._polls_seen < 0 or self._slot_ms >= SLOT_MS:
                if self._polls_seen >= 0 and self.ever_read:
                    self._judge(self._answered_now)
                self._answered_now = False
                self._slot_ms = 0
            self._polls_seen = link.seq
        if fresh:
            b = link.bank
            self.empty_ring = b.count == 0
            if b.count:
                if not self.ever_read:
                    self.at_once = True
                elif self._mark_new(b):
                    self.at_once_new = True
                    b.extremes_of(self.new)
                self.ever_read = True
                self.age_ms = 0
                if b.count >= self.expected:
                    self.expected = b.count
                    self.complete_age_ms = 0
                    self._answered_now = True
                    _copy_hashes(b, self._complete_hash)
                    self._complete_count = b.count
                _copy_hashes(b, self._prev_hash)
                self._prev_count = b.count
            else:
                self._prev_count = 0
        self.complete = self.ever_read and link.bank.count >= self.expected and link.bank.count > 0
        self.stale = self.age_ms >= self._warn_ms
        self.state = self._state()

    def _judge(self, answered):
        self.history = ((self.history << 1) | (1 if answered else 0)) & _MASK
        if self.polls < WINDOW:
            self.polls += 1
        n = 0
        h = self.history
        while h:
            n += h & 1
            h >>= 1
        self.answered = n

    def _state(self):
        if not self.ever_read:
            return CLEAR
        # Judge the share only over polls since the first reading.
        polls = self.polls
        if polls < WINDOW:
            answered = WINDOW - (polls - self.answered)
        else:
            answered = self.answered
        if self.complete_age_ms >= self._warn_ms or answered < self._warn_n:
            return TRIP
        return CLEAR if answered >= self._clear_n else BAND

    def answered_pct(self):
        """Share of the judged seconds of polls (up to the last ``WINDOW``) that got a
        complete reading, in %."""
        return 100 if self.polls == 0 else self.answered * 100 // self.polls

    def no_battery(self):
        """E-B32: nothing answered since boot for ``link_lost_warn_s``, or the ring
        answers with no battery (judged with A-B05 by diagnosis)."""
        return not self.ever_read and self.boot_ms >= self._warn_ms

    def _mark_new(self, b):
        # A battery is new when the last complete reading lacked it (added, or
        # swapped in), or when it was missing from the previous reading and the
        # last complete reading is older than link_lost_warn_s: it went unwatched.
        # A battery that missed a poll or two is not new: its cells were watched
        # a moment ago, and its rules keep their delays and the lead.
        old = self.complete_age_ms >= self._warn_ms
        new = self.new
        _absent(b, self._complete_hash, self._complete_count, new)
        if old:
            _absent(b, self._prev_hash, self._prev_count, self._scratch)
        found = False
        for i in range(b.count):
            if old and self._scratch[i]:
                new[i] = 1
            if new[i]:
                found = True
        return found


def _absent(b, hashes, n, out):
    """``out[i]`` = 1 for each battery of ``b`` not among ``hashes[0:n]``. Ring
    order is physical: batteries that drop out leave the others in order, so
    the known ones are found as a subsequence (linear); only a battery that is not
    is looked for among all of them (the ring read from its other end, re-cabled).
    No allocation."""
    j = 0
    for i in range(b.count):
        x = b.serial_hash[i]
        k = j
        while k < n and hashes[k] != x:
            k += 1
        if k < n:
            out[i] = 0
            j = k + 1
            continue
        out[i] = 1
        for k in range(n):
            if hashes[k] == x:
                out[i] = 0
                break


def _copy_hashes(b, hashes):
    for i in range(b.count):
        hashes[i] = b.serial_hash[i]


def _sat(ms):
    return ms if ms < _SATURATE_MS else _SATURATE_MS
