"""The latched alarm state, kept on flash so that a brown-out or a reset in the
middle of an alarm boots into the safe state (docs/reliability.md, "A brown-out
in the middle of an alarm").

What a reset would otherwise forget, and why it matters:

- a latched under-voltage withdrawal (the ``F_RECHARGE`` codes: A-B01, A-B08).
  At rest the cells relax above their reset, so a fresh BMS would allow the
  loads again on a bank that was not recharged; the load pulls it down, the
  board browns out, and the cycle repeats on an empty bank. Restored, the
  withdrawal holds until a recharge or a user action, as if no reset happened.
- a power port's trip (System+ or alternator): open, its retry count and its
  lock. A short on System+ drags the supply down and can brown the board out;
  without the count every boot would retry the short for ever. Restored, a
  tripped port waits its full retry time again, and a locked one stays locked
  until the user acts.

The state is a handful of small integers, compared each tick without
allocation, and written (``store``: whole or not at all) within
``MIN_GAP_MS`` of a change: a latch or a trip is rare, and the gap bounds the
writes even if one flapped (at most one a second; docs/persistence.md's write
budget). A missing file is a first boot: nothing latched. A corrupt one cannot
say whether something was latched: it is reported (``status``, E-B31 as for
corrupt settings, until the next boot: the behaviour doc's "power-cycle"), the
present state is written over it, and nothing is restored, so the rules judge
afresh with their delays and the pre-alarm lead.
"""
from micropython import const

import codes as C
import store

ALARMS_FILE = "alarms.json"
ALARMS_VERSION = 1
MIN_GAP_MS = const(1000)

# The codes whose withdrawal is latched until a recharge or a user action.
LATCHED = tuple(cid for cid in range(C.N_CODES) if C.TABLE[cid][3] & C.F_RECHARGE)
_N = len(LATCHED) + 6               # one slot per latched code; tripped, locked, failed per port


class AlarmState:
    """``restore(app)`` once after boot, ``tick(dt, app)`` every control tick.

    ``status``: the ``store`` status of the last load (``store.OK``,
    ``MISSING`` or ``CORRUPT``); ``writes``: files written since boot.
    """

    def __init__(self, fs):
        self.fs = fs
        self.status = store.MISSING
        self.writes = 0
        self._now = bytearray(_N)
        self._saved = bytearray(_N)
        self._gap_ms = MIN_GAP_MS

    def _capture(self, app):
        now = self._now
        d = app.diagnosis
        for k in range(len(LATCHED)):
            now[k] = 1 if d.active[LATCHED[k]] and not d.recharged else 0
        k = len(LATCHED)
        for port in (app.power.alternator, app.power.system):
            t = None if port is None else port.trip
            now[k] = 1 if t is not None and t.tripped else 0
            now[k + 1] = 1 if t is not None and t.locked else 0
            now[k + 2] = 0 if t is None else (t.failed if t.failed < 255 else 255)
            k += 3

    def tick(self, dt, app):
        if self._gap_ms < MIN_GAP_MS:
            self._gap_ms += dt
        self._capture(app)
        if self._now != self._saved and self._gap_ms >= MIN_GAP_MS:
            self.save()

    def save(self):
        now = self._now
        n = len(LATCHED)
        ports = []
        for k in range(n, _N, 3):
            ports.append([now[k], now[k + 1], now[k + 2]])
        doc = {"kind": "alarms", "version": ALARMS_VERSION,
               "latched": [C.TABLE[LATCHED[k]][0] for k in range(n) if now[k]],
               "alternator": ports[0], "system": ports[1]}
        store.save(self.fs, ALARMS_FILE, doc)
        self._saved[:] = now
        self._gap_ms = 0
        self.writes += 1

    def restore(self, app):
        """Load the file and put ``app`` back into the state it records; return
        the codes restored (a list of str, for the log)."""
        doc, status = store.load(self.fs, ALARMS_FILE)
        self.status = status
        if doc is None:
            if status == store.CORRUPT:
                self._saved[0] = 0xFF    # the first tick writes a good file: a power-cycle clears E-B31
            return []
        names = [C.TABLE[cid][0] for cid in LATCHED]
        try:
            if doc.get("kind") != "alarms" or doc.get("version") != ALARMS_VERSION:
                raise ValueError("not an alarm-state document")
            latched = doc["latched"]
            ports = (doc["alternator"], doc["system"])
            for name in latched:
                if name not in names:
                    raise ValueError("not a latched code: %r" % (name,))
            for p in ports:
                if len(p) != 3 or not all(isinstance(v, int) and 0 <= v <= 255 for v in p):
                    raise ValueError("bad port state")
        except (ValueError, AttributeError, KeyError, TypeError):
            self.status = store.CORRUPT
            self._saved[0] = 0xFF        # the first tick writes a good file: a power-cycle clears E-B31
            return []
        d = app.diagnosis
        for name in latched:
            d.restore_latched(LATCHED[names.index(name)])
        for port, p in zip((app.power.alternator, app.power.system), ports):
            if port is not None and (p[0] or p[1]):
                port.trip.restore(bool(p[0]), bool(p[1]), p[2])
        self._capture(app)
        self._saved[:] = self._now
        return list(latched)
