"""History of the bank (behaviour §5): extremes and totals since the last clear.

Integers only: energy is counted in mW·s with whole Wh carried out, charge in the
monitor's mAh. A charge cycle is counted when the SoC has fallen below 65 % and
then risen above 90 % (the definition Victron's battery monitors use).
"""
from micropython import const

_MWS_PER_WH = const(3600000)
FIELDS = ("deepest_discharge_mah", "drawn_mah", "discharged_wh", "charged_wh", "synchronisations",
          "cycles", "since_full_s", "min_bank_mv", "max_bank_mv", "min_cell_mv", "max_cell_mv",
          "min_temp_dc", "max_temp_dc")


class History:
    """Totals and extremes; ``as_dict()`` / ``restore(d)`` for storage.
    ``since_full_s`` is -1 until the first full charge; extremes are None until seen."""

    def __init__(self):
        self.clear()

    def clear(self):
        self.deepest_discharge_mah = 0   # most negative consumed Ah seen (<= 0)
        self.drawn_mah = 0               # cumulative Ah drawn
        self.discharged_wh = 0
        self.charged_wh = 0
        self.synchronisations = 0
        self.cycles = 0
        self.since_full_s = -1
        self.min_bank_mv = None
        self.max_bank_mv = None
        self.min_cell_mv = None
        self.max_cell_mv = None
        self.min_temp_dc = None
        self.max_temp_dc = None
        self._out_mams = 0
        self._out_mws = 0
        self._in_mws = 0
        self._ms = 0
        self._below_65 = False
        self.changed = True

    def as_dict(self):
        d = {}
        for name in FIELDS:
            d[name] = getattr(self, name)
        return d

    def restore(self, d):
        """Take stored values; raise ValueError (nothing changed) if one is not an int or None."""
        for name in FIELDS:
            v = d.get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise ValueError("history field %s is %r" % (name, v))
        for name in FIELDS:
            if name in d:
                setattr(self, name, d[name])
        self.changed = False

    def _extreme(self, lo_name, hi_name, v):
        lo = getattr(self, lo_name)
        if lo is None or v < lo:
            setattr(self, lo_name, v)
            self.changed = True
        hi = getattr(self, hi_name)
        if hi is None or v > hi:
            setattr(self, hi_name, v)
            self.changed = True

    def elapse(self, dt_ms):
        """Every tick, whatever the link does: time since the last full charge
        (the one such counter; the balancer's 30-day rule reads it)."""
        if self.since_full_s >= 0:
            self._ms += dt_ms
            if self._ms >= 1000:
                self.since_full_s += self._ms // 1000
                self._ms %= 1000

    def update(self, dt_ms, bank, ma, monitor):
        """One tick with a fresh-enough ``bank`` (aggregates), the bank current
        ``ma`` (mA, + = charging) and the ``monitor``."""
        self._extreme("min_bank_mv", "max_bank_mv", bank.bank_mv)
        self._extreme("min_cell_mv", "max_cell_mv", bank.cell_min_mv)
        self._extreme("min_cell_mv", "max_cell_mv", bank.cell_max_mv)
        self._extreme("min_temp_dc", "max_temp_dc", bank.temp_min_dc)
        self._extreme("min_temp_dc", "max_temp_dc", bank.temp_max_dc)
        # Power in mW, energy in mW·s and charge in mA·ms: every product stays a
        # small int (< 2**30, no allocation) up to 60 V x 2 000 A with ticks up to
        # 500 ms apart (whole amps and watts first, then the rest).
        a = ma if ma >= 0 else -ma
        mv = bank.bank_mv
        mw = mv * (a // 1000) + mv * (a % 1000) // 1000
        mws = (mw // 1000) * dt_ms + (mw % 1000) * dt_ms // 1000
        if ma < 0:
            self._out_mams += -ma * dt_ms
            q = self._out_mams // 3600000
            if q:
                self.drawn_mah += q
                self._out_mams -= q * 3600000
                self.changed = True
            self._out_mws += mws
            if self._out_mws >= _MWS_PER_WH:
                self.discharged_wh += self._out_mws // _MWS_PER_WH
                self._out_mws %= _MWS_PER_WH
                self.changed = True
        elif ma > 0:
            self._in_mws += mws
            if self._in_mws >= _MWS_PER_WH:
                self.charged_wh += self._in_mws // _MWS_PER_WH
                self._in_mws %= _MWS_PER_WH
                self.changed = True
        soc = monitor.soc_pct10
        if soc >= 0:
            if monitor.consumed_mah < self.deepest_discharge_mah:
                self.deepest_discharge_mah = monitor.consumed_mah
                self.changed = True
            if soc < 650:
                self._below_65 = True
            elif soc > 900 and self._below_65:
                self._below_65 = False
                self.cycles += 1
                self.changed = True

    def full_charge(self):
        self.synchronisations += 1
        self.since_full_s = 0
        self._ms = 0
        self.changed = True
