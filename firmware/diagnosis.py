"""Diagnosis: every row of the code table through its detector and the qualifier.

Once per tick ``update(dt, obs)`` evaluates each row of ``codes.TABLE`` in table
order (``detect``), qualifies it (``qualifier``) and applies the row's flags:

- ``F_LEAD``: an under-voltage load disconnect waits until the pre-alarm has been
  on for ``pre_alarm_lead_s`` (behaviour §1: at least 30 s), even past the hard
  limit (which skips the delay and raises the pre-alarm at once), unless the
  reading is decided at once after boot (docs/protection.md, the 30 s lead);
- ``F_RECHARGE``: once active, the row clears only after evidence of recharge
  (a net ``recharge_pct`` of the capacity charged in since the withdrawal) or a
  user action
  (``user_action()``: remote or soft switch off and on, ``diag.reset_alarms()``),
  never on the cells relaxing alone (behaviour §7, A-B01: "loads back on when
  recharged").

``active`` (bytearray, one byte per code id) is the result; ``pre_alarm`` is true
while a row with ``F_PRE_ALARM`` is active. No clock, no allocation per tick.
"""
from micropython import const

import codes as C
from detect import Detectors, is_data_row
from qualifier import BAND, CLEAR, HARD, TRIP, Qualifier

_SATURATE_MS = const(1 << 28)


class Diagnosis:
    def __init__(self, settings):
        self.settings = settings
        self.detectors = Detectors(settings)
        self.q = Qualifier(C.N_CODES)
        self.active = self.q.active
        self.pre_alarm = False
        self.pre_ms = 0               # how long the pre-alarm has been on
        self.recharged = False        # recharged since the last under-voltage withdrawal
        self.recharge_mah = 0         # charge counted toward it, mAh
        self._recharge_rem = 0        # and the part of a mAh, mA·ms
        self._user_action = False
        self._after_ab05 = False      # A-B05 came: its next fresh reading is decided at once
        self._version = -1

    def _load(self):
        s = self.settings
        if self.detectors.version != s.version:
            self.detectors.load()
        self._lead_ms = s.ms("pre_alarm_lead_s")
        self._recharge_pct10 = int(s.get("recharge_pct") * 10 + 0.5)
        self._version = s.version

    def user_action(self):
        """A deliberate user action: latched under-voltage withdrawals are released
        (the rules then judge the cells afresh, delays and lead included)."""
        self._user_action = True

    def restore_latched(self, cid):
        """After a reset: code ``cid`` (an ``F_RECHARGE`` row) was latched when
        the board went down (``alarm_state``); it holds again, not recharged."""
        self.q.set_active(cid)
        self.recharged = False
        self.recharge_mah = 0
        self._recharge_rem = 0

    def update(self, dt, obs):
        if self._version != self.settings.version:
            self._load()
        # The lead: how long the pre-alarm has been on, counted from the tick it came on.
        self.pre_ms = _sat(self.pre_ms + dt) if self.pre_alarm else 0
        self._update_recharge(dt, obs)
        if self._user_action:
            self._user_action = False
            for cid in range(C.N_CODES):
                if C.TABLE[cid][3] & C.F_RECHARGE:
                    self.q.reset(cid)
        q = self.q
        det = self.detectors
        a = self.active
        # The first fresh reading after A-B05 withdrew everything is decided at once.
        at_once = obs.at_once
        if self._after_ab05 and obs.fresh and obs.bank is not None:
            at_once = True
            self._after_ab05 = False
        pre = False
        for cid in range(C.N_CODES):
            row = C.TABLE[cid]
            flags = row[3]
            state = det.evaluate(cid, obs, a)
            data = is_data_row(row[4])
            now = data and at_once
            if data and obs.at_once_new and not now and not a[cid]:
                if row[4] < C.D_BANK_LOW:
                    # Only the batteries that came back were unwatched: their cells
                    # are decided at once, the others' rules run on as they were.
                    s2 = det.evaluate(cid, obs, a, True)
                    now = s2 == TRIP or s2 == HARD
                elif row[4] != C.D_BANK_LOW:
                    now = True        # the bank's make-up and the flags, judged anew
            if a[cid] and flags & C.F_RECHARGE and not self.recharged and state == CLEAR:
                state = BAND          # relaxed, not recharged: hold the withdrawal
            if q.step(cid, state, dt, det.delay_ms[cid], det.clear_ms[cid], data and obs.stale, now):
                if flags & C.F_LEAD and not now and self.pre_ms < self._lead_ms:
                    pass              # the pre-alarm lead is not over yet
                else:
                    q.set_active(cid)
                    if cid == C.A_B05:
                        self._after_ab05 = True
                    if flags & C.F_RECHARGE:
                        self.recharged = False
                        self.recharge_mah = 0
                        self._recharge_rem = 0
            if a[cid] and flags & C.F_PRE_ALARM:
                pre = True
        self.pre_alarm = pre

    def _update_recharge(self, dt, obs):
        # Evidence of recharge: the net charge since the withdrawal (integer mAh and
        # a remainder in mA·ms, as the monitor counts; a discharge counts against
        # it), until recharge_pct of the capacity (0.1 Ah at least). Any charger
        # counts, however small; zero-mean sensor noise does not add up.
        if self.recharged:
            return
        if obs.current_known:
            self._recharge_rem += obs.current_ma * dt
            q = self._recharge_rem // 3600000
            if q:
                self.recharge_mah += q
                self._recharge_rem -= q * 3600000
        need = obs.capacity_ah * self._recharge_pct10      # Ah x 0.1 % = mAh
        if self.recharge_mah >= (need if need > 100 else 100):
            self.recharged = True


def _sat(ms):
    return ms if ms < _SATURATE_MS else _SATURATE_MS

