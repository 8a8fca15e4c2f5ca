"""Battery monitor: state of charge, consumed Ah and time-to-go (behaviour §5).

Coulomb counting in integers only (ESP32 floats are 32-bit): charge is kept as
whole mAh plus a remainder in mA·ms, so a 15 000 Ah bank counts exactly and no
value leaves MicroPython's small-int range. SoC is unknown (``soc_pct10`` = -1)
until the first synchronisation or ``set_soc``; every consumer shows "unknown".

``update(dt_ms, current_ma, cell_avg_mv)`` once per tick in which the current is
known (a shunt: every tick; the batteries' own current: across link gaps up to
``current_hold_s``, docs/monitor.md). SoC synchronises to 100 % when the mean
cell voltage of the batteries that answered is at least ``charged_cell_v`` and
the current is below ``tail_current_pct`` of capacity, both for
``charged_detection_s`` (behaviour §5; defaults 4 %, 3 minutes). One
synchronisation a charge: after one, the detection waits until SoC has once
fallen to ``SYNC_REARM_PCT10`` (99.0 %); the count climbing back to 100 % before
the bank is really full does not disarm it again. So a bank held full
by a charger all day counts one full charge and asks for one history write,
not one every three minutes (docs/monitor.md).
"""
from micropython import const

_MAMS_PER_MAH = const(3600000)     # mA·ms in one mAh
UNKNOWN = const(-1)
SYNC_REARM_PCT10 = const(990)       # the detection re-arms at or below 99.0 %


class Monitor:
    """State: ``soc_pct10`` (SoC in 0.1 %, or ``UNKNOWN``), ``consumed_mah``
    (<= 0 once synchronised: drawn since the last full charge, Victron's sign),
    ``ttg_min`` (minutes to the discharge limit at the filtered current, or -1 when
    not discharging or SoC unknown), ``current_avg_ma``, ``synchronised`` (count).
    """

    def __init__(self, settings):
        self.settings = settings
        self.capacity_mah = 0
        self._cap_ah = 0
        self.soc_pct10 = UNKNOWN
        self._charge_mah = 0          # charge in the bank, mAh (valid when SoC known)
        self._rem_mams = 0            # and the part of a mAh, 0..3 599 999 mA·ms
        self.consumed_mah = 0
        self.ttg_min = -1
        self.current_avg_ma = 0
        self._avg_rem = 0
        self._charged_ms = 0
        self._armed = True            # full-charge detection counts (see SYNC_REARM_PCT10)
        self.synchronised = 0
        self._version = -1

    def _load(self):
        s = self.settings
        self._charged_cell_mv = s.mv("charged_cell_v")
        self._tail_pct10 = int(s.get("tail_current_pct") * 10 + 0.5)
        self._detect_ms = s.ms("charged_detection_s")
        self._limit_pct10 = int(s.get("discharge_limit_pct") * 10 + 0.5)
        self._tau_ms = s.ms("ttg_filter_s")
        self._version = s.version

    def set_capacity_ah(self, ah):
        """Bank capacity from the detected bank (sum over one series string's batteries)."""
        mah = ah * 1000
        if mah != self.capacity_mah:
            self.capacity_mah = mah
            self._cap_ah = ah
            if self.soc_pct10 != UNKNOWN:
                self._set_charge_pct10(self.soc_pct10)

    def _set_charge_pct10(self, pct10):
        # Capacity is whole Ah, so mAh = Ah x per-mille: no product leaves the small ints.
        self._charge_mah = self._cap_ah * pct10
        self._rem_mams = 0
        self._refresh()

    def set_soc(self, pct):
        """Manual "set SoC" (0..100 %); raises ValueError outside that range."""
        if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
            raise ValueError("SoC must be a number from 0 to 100, not %r" % (pct,))
        self.soc_pct10 = int(pct * 10 + 0.5)
        self._set_charge_pct10(self.soc_pct10)

    def synchronise(self):
        """Manual "synchronise to 100 %"."""
        self.synchronised += 1
        self._armed = False
        self.soc_pct10 = 1000
        self._set_charge_pct10(1000)

    def _refresh(self):
        cap = self.capacity_mah
        if cap <= 0:
            return
        charge = self._charge_mah
        if charge > cap:
            charge = cap
            self._charge_mah = cap
            self._rem_mams = 0
        if charge < 0:
            charge = 0
        self.soc_pct10 = charge // self._cap_ah
        self.consumed_mah = charge - cap

    def update(self, dt_ms, current_ma, cell_avg_mv):
        """One tick: count charge, filter current, check for a full charge, TTG.

        ``cell_avg_mv``: mean cell voltage of a recent reading, 0 when none is
        recent (no full-charge detection then)."""
        if self._version != self.settings.version:
            self._load()
        if dt_ms <= 0 or self.capacity_mah <= 0:
            return
        # Filtered current for TTG: first-order low pass, integer arithmetic.
        tau = self._tau_ms
        self._avg_rem += (current_ma - self.current_avg_ma) * dt_ms
        step = self._avg_rem // tau
        self.current_avg_ma += step
        self._avg_rem -= step * tau
        # Full-charge detection (behaviour §5).
        tail_ma = self._cap_ah * self._tail_pct10
        if not self._armed and self.soc_pct10 != UNKNOWN and self.soc_pct10 <= SYNC_REARM_PCT10:
            self._armed = True        # the bank gave out 1 %: the next full charge counts
        if self._armed and cell_avg_mv >= self._charged_cell_mv and current_ma < tail_ma:
            self._charged_ms += dt_ms
            if self._charged_ms >= self._detect_ms:
                self._charged_ms = 0
                self.synchronise()
                return
        else:
            self._charged_ms = 0
        if self.soc_pct10 == UNKNOWN:
            return
        self._rem_mams += current_ma * dt_ms
        q = self._rem_mams // _MAMS_PER_MAH
        if q:
            self._charge_mah += q
            self._rem_mams -= q * _MAMS_PER_MAH
        self._refresh()
        self._time_to_go()

    def _time_to_go(self):
        i = self.current_avg_ma
        if i >= -10:                   # not discharging (within 10 mA of zero): no TTG
            self.ttg_min = -1
            return
        usable = self._charge_mah - self._cap_ah * self._limit_pct10
        if usable <= 0:
            self.ttg_min = 0
            return
        # minutes = mAh / mA * 60; both small ints, the product stays below 2**30
        # for any bank under 17 000 Ah.
        self.ttg_min = usable * 60 // -i
