"""Battery-bank physics for the simulator: LiFePO4 cells, batteries, strings.

A cell's terminal voltage is its open-circuit voltage at its true state of charge
(``OCV_CURVE``) plus current times internal resistance. Each battery holds
``cells`` cells in series, each with its own capacity (spread around the rating)
so the weakest cell reaches the limits first, as in a real pack. Batteries form
``series`` x ``parallel``; the bank current divides evenly between the parallel
strings. Current is positive when charging.
"""
import bisect
import random

# (SoC %, open-circuit mV) for a LiFePO4 cell at 25 degC; typical published curves
# (flat 3.25..3.35 V plateau, knees below 10 % and above 95 %). Beyond 100 % the
# cell is being over-charged and its voltage climbs steeply.
OCV_CURVE = (
    (-5.0, 2000), (0.0, 2500), (3.0, 2900), (6.0, 3100), (10.0, 3200), (20.0, 3250),
    (30.0, 3280), (40.0, 3295), (50.0, 3300), (60.0, 3310), (70.0, 3325),
    (80.0, 3335), (90.0, 3345), (95.0, 3360), (98.0, 3400), (100.0, 3500),
    (102.0, 3650), (104.0, 3800), (108.0, 4200),
)


_OCV_SOC = [p[0] for p in OCV_CURVE]


def ocv_mv(soc_pct):
    """Open-circuit cell voltage in mV at ``soc_pct`` (linear between curve points)."""
    pts = OCV_CURVE
    if soc_pct <= pts[0][0]:
        return pts[0][1]
    i = bisect.bisect_left(_OCV_SOC, soc_pct)
    if i == len(pts):
        return pts[-1][1]
    s0, v0 = pts[i - 1]
    s1, v1 = pts[i]
    return v0 + (v1 - v0) * (soc_pct - s0) / (s1 - s0)


class Cell:
    def __init__(self, capacity_ah, soc_pct, r_mohm):
        self.capacity_as = capacity_ah * 3600.0
        self.charge_as = capacity_ah * 3600.0 * soc_pct / 100.0
        self.r_ohm = r_mohm / 1000.0
        self.current_a = 0.0
        self._ocv_at = None
        self._ocv = 0.0

    @property
    def soc_pct(self):
        return 100.0 * self.charge_as / self.capacity_as

    def ocv(self):
        """``ocv_mv`` at this cell's charge, computed again only when the charge
        changed (the world asks several times a tick: the ring's answer, the
        remote's bank voltage, the truth)."""
        if self.charge_as != self._ocv_at:
            self._ocv_at = self.charge_as
            self._ocv = ocv_mv(100.0 * self.charge_as / self.capacity_as)
        return self._ocv

    def step(self, current_a, dt_s):
        self.current_a = current_a
        self.charge_as += current_a * dt_s
        lo = -0.05 * self.capacity_as
        hi = 1.08 * self.capacity_as
        self.charge_as = lo if self.charge_as < lo else hi if self.charge_as > hi else self.charge_as

    def voltage_mv(self):
        return self.ocv() + self.current_a * self.r_ohm * 1000.0


class Battery:
    def __init__(self, serial, capacity_ah, cells, soc_pct, r_mohm, spread_pct, temps, rng,
                 series_pos, fw_version=0x0104):
        self.serial = serial
        self.capacity_ah = capacity_ah
        self.fw_version = fw_version
        self.series_pos = series_pos
        self.cells = []
        for _ in range(cells):
            cap = capacity_ah * (1.0 + rng.uniform(-spread_pct, spread_pct) / 100.0)
            self.cells.append(Cell(cap, soc_pct, r_mohm))
        self.temp_offsets_c = [0.0] * temps
        self.temps_c = [20.0] * temps
        self.current_a = 0.0
        self.flags = 0

    def voltage_mv(self):
        return sum(c.voltage_mv() for c in self.cells)

    def soc_pct(self):
        """The battery's true SoC: its emptiest cell limits what it can deliver."""
        return min(c.soc_pct for c in self.cells)

    def step(self, current_a, dt_s):
        self.current_a = current_a
        for c in self.cells:
            c.step(current_a, dt_s)


class BankSim:
    """``series`` x ``parallel`` batteries of ``cells`` LiFePO4 cells each.

    Batteries are listed in ring order: string by string, series position 1 first.
    ``step(current_a, dt_s)`` moves charge; ``set_temperature(c)`` sets every
    sensor (plus each battery's fixed offset).
    """

    def __init__(self, series=1, parallel=1, cells=4, capacity_ah=100.0, soc_pct=50.0,
                 r_mohm=1.0, spread_pct=2.0, temps=1, temperature_c=20.0, seed=1,
                 temp_spread_c=0.5, cell_offset_pct=0.0, current_gain_error_pct=0.0, current_offset_a=0.0):
        rng = random.Random(seed)
        self.gain = 1.0 + current_gain_error_pct / 100.0
        self.offset_a = current_offset_a
        self.series = series
        self.parallel = parallel
        self.batteries = []
        for p in range(parallel):
            for s in range(series):
                serial = "HQ%04d%05d" % (2240 + p, 1 + s + p * series)
                b = Battery(serial, capacity_ah, cells, soc_pct, r_mohm, spread_pct, temps, rng, s + 1)
                b.temp_offsets_c = [rng.uniform(-temp_spread_c, temp_spread_c) for _ in range(temps)]
                self.batteries.append(b)
        self.set_temperature(temperature_c)
        if cell_offset_pct:
            # One out-of-balance cell: battery 1, cell 1 holds this much more charge.
            c = self.batteries[0].cells[0]
            c.charge_as += c.capacity_as * cell_offset_pct / 100.0

    def reported_current_a(self, battery):
        """What a battery's current sensor reports: the true current with the
        bank's gain error and its share of the offset (the bank's sensor error)."""
        return battery.current_a * self.gain + self.offset_a / self.parallel

    def cv_limit_a(self, volts):
        """The charge current (A, >= 0) at which the bank's terminal voltage is
        ``volts``: what a constant-voltage charger settles to."""
        best = None
        for p in range(self.parallel):
            string = self.batteries[p * self.series:(p + 1) * self.series]
            ocv = sum(c.ocv() for b in string for c in b.cells) / 1000.0
            r = sum(c.r_ohm for b in string for c in b.cells)
            i = max(0.0, (volts - ocv) / r)
            best = i if best is None else min(best, i)
        return best * self.parallel

    def thevenin(self):
        """The bank as (open-circuit V, internal resistance Ω): its strings in
        parallel (their mean open-circuit voltage, their resistances in parallel)."""
        ocvs = []
        g = 0.0
        for p in range(self.parallel):
            string = self.batteries[p * self.series:(p + 1) * self.series]
            ocvs.append(sum(c.ocv() for b in string for c in b.cells) / 1000.0)
            g += 1.0 / sum(c.r_ohm for b in string for c in b.cells)
        return sum(ocvs) / len(ocvs), 1.0 / g

    def set_temperature(self, temp_c):
        for b in self.batteries:
            b.temps_c = [temp_c + off for off in b.temp_offsets_c]

    def set_battery_temperature(self, battery, temp_c):
        """Battery ``battery`` (1-based, ring order) alone at ``temp_c``."""
        b = self.batteries[battery - 1]
        b.temps_c = [temp_c + off for off in b.temp_offsets_c]

    def set_cell(self, battery, cell, r_mohm=None, soc_pct=None):
        """Change one cell (both 1-based): its internal resistance, its charge."""
        c = self.batteries[battery - 1].cells[cell - 1]
        if r_mohm is not None:
            c.r_ohm = r_mohm / 1000.0
        if soc_pct is not None:
            c.charge_as = c.capacity_as * soc_pct / 100.0

    def step(self, current_a, dt_s):
        per_string = current_a / self.parallel
        for b in self.batteries:
            b.step(per_string, dt_s)

    def voltage_mv(self):
        strings = [self.batteries[p * self.series:(p + 1) * self.series] for p in range(self.parallel)]
        return sum(sum(b.voltage_mv() for b in s) for s in strings) / self.parallel

    def soc_pct(self):
        """True bank SoC in %: the average over strings of each string's weakest battery."""
        strings = [self.batteries[p * self.series:(p + 1) * self.series] for p in range(self.parallel)]
        return sum(min(b.soc_pct() for b in s) for s in strings) / self.parallel

    def cell_extremes_mv(self):
        vs = [c.voltage_mv() for b in self.batteries for c in b.cells]
        return min(vs), max(vs)
