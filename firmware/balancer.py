"""Balancer status of the bank (behaviour §6): unknown / balanced / imbalanced / balancing.

- balancing: a battery says it is balancing (record flag bit 0);
- unknown: SoC unknown, no full charge (synchronisation) for ``balancer_stale_days``
  (30), or the bank changed since the last full charge;
- imbalanced: at the last full charge the cell spread (max − min) was above
  ``imbalance_mv`` (80 mV): LiFePO4 cells only show their differences at the top
  of the charge, so that is where it is judged;
- balanced: otherwise.
"""
from micropython import const

import bank as B

UNKNOWN = const(0)
BALANCED = const(1)
IMBALANCED = const(2)
BALANCING = const(3)
NAMES = ("unknown", "balanced", "imbalanced", "balancing")
_DAY_S = const(86400)


class Balancer:
    def __init__(self, settings):
        self.settings = settings
        self.status = UNKNOWN
        self.spread_at_full_mv = -1   # -1: no full charge seen since boot
        self._count_at_full = 0

    def full_charge(self, bank):
        """Called at each synchronisation to 100 %: remember the cell spread."""
        self.spread_at_full_mv = bank.cell_max_mv - bank.cell_min_mv
        self._count_at_full = bank.count

    def update(self, bank, soc_known, since_full_s):
        """``since_full_s``: seconds since the last full charge, -1 never (the
        history keeps that one counter, across reboots)."""
        balancing = False
        if bank is not None:
            for i in range(bank.count):
                if bank.flags[i] & B.FLAG_BALANCING:
                    balancing = True
        stale_s = self.settings.get("balancer_stale_days") * _DAY_S
        if balancing:
            self.status = BALANCING
        elif (not soc_known or since_full_s < 0 or since_full_s > stale_s or self.spread_at_full_mv < 0
              or bank is None or bank.count != self._count_at_full):
            self.status = UNKNOWN
        elif self.spread_at_full_mv > self.settings.get("imbalance_mv"):
            self.status = IMBALANCED
        else:
            self.status = BALANCED
