"""The simulated installation around the BMS: the bank and what is wired to it.

Loads hang on the load disconnect output (they draw while ATD), chargers on the
charge disconnect output (they charge while ATC), ``uncontrolled_a`` flows
whatever the BMS says. A ``cycle`` alternates any of these values (or the
temperature) on a fixed pattern: a pulsed charger, a sensor flicking across a
limit. ``noise_mv`` adds seeded Gaussian noise to the cell voltages the
batteries report (the truth stays clean). Scenario keys: docs/scenarios.md.
"""
import math
import random

from host_tools import bank_sim

from .plant import AlternatorPort, SystemPlus

# [plant] keys are checked in host_tools/scenario.py (PLANT_KEYS); _plant_step sets those a step can change.
BMS_TAU_S = 120.0

CYCLE_KEYS = ("load_a", "charge_a", "uncontrolled_a", "temperature_c")


class World:
    """``state``: the scenario's present values; ``bank``: ``bank_sim.BankSim``."""

    def __init__(self, bank_kw, plant_kw=None, fuse_uohm=450.0):
        self.bank = bank_sim.BankSim(**bank_kw)
        pk = dict(plant_kw or {})
        self.fuse_uohm = fuse_uohm * (1.0 + pk.get("fuse_error_pct", 0.0) / 100.0)
        alt_kw = {}
        for key, name in (("rated_a", "rated_a"), ("regulator_v", "regulator_v"),
                          ("alternator_ambient_c", "ambient_c")):
            if key in pk:
                alt_kw[name] = pk[key]
        self.alt = AlternatorPort(self.fuse_uohm, ideal_diode=pk.get("ideal_diode", True), **alt_kw)
        self.sys = SystemPlus(cap_f=pk.get("system_cap_f", 0.02), comparator_a=pk.get("comparator_a", 600.0))
        self.bms_ambient_c = pk.get("bms_ambient_c", 25.0)
        self.bms_rth = pk.get("bms_rth_k_per_w", 0.4)
        self.bms_temp_c = self.bms_ambient_c
        self._thevenin = None
        self.comparator_trips = 0
        self._plant_step(pk)
        self.alt.alternator.engine_rpm = self.alt.alternator.target_rpm     # running at the start: no ramp
        self.rng = random.Random(bank_kw.get("seed", 1) + 2000)
        self.state = {"load_a": 0.0, "charge_a": 0.0, "charge_v": None, "uncontrolled_a": 0.0,
                      "remote": "loop", "temperature_c": bank_kw.get("temperature_c", 20.0), "noise_mv": 0.0}
        self.cycle = None            # (key, values, durations_ms, start_ms)
        self.frozen = {}             # (battery index, cell index) -> the value its sensor keeps reporting (mV)
        self._temp = self.state["temperature_c"]

    def _plant_step(self, st):
        # Step key -> (the plant part it sets, that part's attribute).
        a = self.alt
        where = {"engine_rpm": (a.alternator, "target_rpm"), "regulator_v": (a.alternator, "regulator_v"),
                 "alternator_ambient_c": (a.alternator, "ambient_c"), "vehicle_load_a": (a, "vehicle_load_a"),
                 "starter_soc_pct": (a.starter, "soc_pct"), "bms_ambient_c": (self, "bms_ambient_c"),
                 "bms_rth_k_per_w": (self, "bms_rth"), "system_load_a": (self.sys, "load_a"),
                 "system_charge_a": (self.sys, "charge_a"), "system_short": (self.sys, "short")}
        for key in st:
            if key in where:
                obj, attr = where[key]
                setattr(obj, attr, bool(st[key]) if key == "system_short" else st[key])

    def apply_step(self, st, t_ms):
        """Apply one scenario step's world changes at ``t_ms``."""
        self._plant_step(st)
        for key in ("load_a", "charge_a", "charge_v", "uncontrolled_a", "remote", "noise_mv"):
            if key in st:
                self.state[key] = st[key]
        if "temperature_c" in st:
            self.state["temperature_c"] = st["temperature_c"]
            self._set_temp(st["temperature_c"])
        for c in _as_list(st.get("battery_temperature_c")):
            self.bank.set_battery_temperature(c["battery"], c["c"])
        for c in _as_list(st.get("cell")):
            self.bank.set_cell(c["battery"], c["cell"], c.get("r_mohm"), c.get("soc_pct"))
        for f in _as_list(st.get("frozen_cell")):
            key = (f["battery"] - 1, f["cell"] - 1)
            if f.get("frozen", True):
                self.frozen[key] = None      # holds the next value it reports
            else:
                self.frozen.pop(key, None)
        for f in _as_list(st.get("battery_flags")):
            self.bank.batteries[f["battery"] - 1].flags = f["flags"]
        if "cycle" in st:
            cy = st["cycle"]
            if cy is None or cy == {}:
                self.cycle = None
            else:
                self.cycle = (cy["key"], list(cy["values"]), [int(d * 1000) for d in cy["durations_s"]], t_ms)

    def _set_temp(self, c):
        if c != self._temp:
            self._temp = c
            self.bank.set_temperature(c)

    def value(self, key, t_ms):
        """The value of ``key`` now: the cycle's phase value if it cycles ``key``."""
        cy = self.cycle
        if cy is not None and cy[0] == key:
            period = sum(cy[2])
            phase = (t_ms - cy[3]) % period
            for v, d in zip(cy[1], cy[2]):
                if phase < d:
                    return v
                phase -= d
        return self.state[key]

    def step(self, dt_ms, t_ms, charge_on, load_on, duty=0.0, sys_gates=(False, False, False), main_on=True):
        """Move charge for ``dt_ms``; return the bank current (A, + = charging).
        ``duty``: the alternator gate's PWM duty (0..1); ``sys_gates``: the
        System+ (charge, discharge, pre-charge) gates; ``main_on``: false while
        a main contactor is open (no uncontrolled current either)."""
        s = self.state
        self._set_temp(self.value("temperature_c", t_ms))
        current = self.value("uncontrolled_a", t_ms) if main_on else 0.0
        if charge_on:
            charge = self.value("charge_a", t_ms)
            if s["charge_v"] is not None:      # a constant-voltage charger tapers
                charge = min(charge, self.bank.cv_limit_a(s["charge_v"]))
            current += charge
        if load_on:
            current -= self.value("load_a", t_ms)
        dt_s = dt_ms / 1000.0
        if duty > 0 or self.alt.mos.vgs > 0.5 or max(self.alt.alternator.engine_rpm, self.alt.alternator.target_rpm) > 0 or any(sys_gates) \
                or self._thevenin is None or t_ms % 1000 == 0:
            self._thevenin = self.bank.thevenin()     # idle ports: once a second is enough
        ocv, r = self._thevenin
        i_sys = self.sys.step(dt_s, sys_gates[0], sys_gates[1], sys_gates[2], self.alt.lithium_v)
        current += i_sys
        current += self.alt.step(dt_s, duty, ocv, r, current, self.bms_temp_c)
        loss = self.alt.mos_loss_w + self.sys.loss_w
        target = self.bms_ambient_c + loss * self.bms_rth
        self.bms_temp_c += (target - self.bms_temp_c) * (1.0 - math.exp(-dt_s / BMS_TAU_S))
        self.bank.step(current, dt_ms / 1000.0)
        self.bank.current_a = current
        return current

    def remote_mv(self):
        """(L, H) terminal voltages in mV for the scenario's remote wiring."""
        v = self.bank.voltage_mv()
        return {"loop": (v / 2, v / 2), "open": (v, 0), "l_low": (0, 0), "h_high": (v, v)}[self.state["remote"]]

    def reported_cells(self, battery):
        """What a battery's cell sensors report, in whole mV (with the noise; a
        frozen sensor repeats the value it had when it froze)."""
        sigma = self.state["noise_mv"]
        out = []
        b = self.bank.batteries.index(battery) if self.frozen else None
        for k, c in enumerate(battery.cells):
            if b is not None and (b, k) in self.frozen and self.frozen[(b, k)] is not None:
                out.append(self.frozen[(b, k)])
                continue
            v = c.voltage_mv()
            if sigma:
                v += self.rng.gauss(0.0, sigma)
            # What a 16-bit cell field can carry (a model cell under an absurd load
            # can go below 0 V; the batteries' own ADC reads 0 then).
            out.append(min(65535, max(0, int(round(v)))))
            if b is not None and (b, k) in self.frozen:
                self.frozen[(b, k)] = out[-1]
        return out

    def truth_cells_v(self):
        """(lowest, highest) true cell voltage in V."""
        lo, hi = self.bank.cell_extremes_mv()
        return round(lo / 1000.0, 4), round(hi / 1000.0, 4)


def _as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]
