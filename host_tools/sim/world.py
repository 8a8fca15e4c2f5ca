"""The simulated installation around the BMS: the bank and what is wired to it.

Loads hang on the load disconnect output (they draw while ATD), chargers on the
charge disconnect output (they charge while ATC), ``uncontrolled_a`` flows
whatever the BMS says. A ``cycle`` alternates any of these values (or the
temperature) on a fixed pattern: a pulsed charger, a sensor flicking across a
limit. ``noise_mv`` adds seeded Gaussian noise to the cell voltages the
batteries report (the truth stays clean). Scenario keys: docs/scenarios.md.
"""
import random

from host_tools import bank_sim

CYCLE_KEYS = ("load_a", "charge_a", "uncontrolled_a", "temperature_c")


class World:
    """``state``: the scenario's present values; ``bank``: ``bank_sim.BankSim``."""

    def __init__(self, bank_kw):
        self.bank = bank_sim.BankSim(**bank_kw)
        self.rng = random.Random(bank_kw.get("seed", 1) + 2000)
        self.state = {"load_a": 0.0, "charge_a": 0.0, "charge_v": None, "uncontrolled_a": 0.0,
                      "remote": "loop", "temperature_c": bank_kw.get("temperature_c", 20.0), "noise_mv": 0.0}
        self.cycle = None            # (key, values, durations_ms, start_ms)
        self._temp = self.state["temperature_c"]

    def apply_step(self, st, t_ms):
        """Apply one scenario step's world changes at ``t_ms``."""
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

    def step(self, dt_ms, t_ms, charge_on, load_on):
        """Move charge for ``dt_ms``; return the bank current (A, + = charging)."""
        s = self.state
        self._set_temp(self.value("temperature_c", t_ms))
        current = self.value("uncontrolled_a", t_ms)
        if charge_on:
            charge = self.value("charge_a", t_ms)
            if s["charge_v"] is not None:      # a constant-voltage charger tapers
                charge = min(charge, self.bank.cv_limit_a(s["charge_v"]))
            current += charge
        if load_on:
            current -= self.value("load_a", t_ms)
        self.bank.step(current, dt_ms / 1000.0)
        self.bank.current_a = current
        return current

    def remote_mv(self):
        """(L, H) terminal voltages in mV for the scenario's remote wiring."""
        v = self.bank.voltage_mv()
        return {"loop": (v / 2, v / 2), "open": (v, 0), "l_low": (0, 0), "h_high": (v, v)}[self.state["remote"]]

    def reported_cells(self, battery):
        """What a battery's cell sensors report, in whole mV (with the noise)."""
        sigma = self.state["noise_mv"]
        out = []
        for c in battery.cells:
            v = c.voltage_mv()
            if sigma:
                v += self.rng.gauss(0.0, sigma)
            # What a 16-bit cell field can carry (a model cell under an absurd load
            # can go below 0 V; the batteries' own ADC reads 0 then).
            out.append(min(65535, max(0, int(round(v)))))
        return out

    def truth_cells_v(self):
        """(lowest, highest) true cell voltage in V."""
        lo, hi = self.bank.cell_extremes_mv()
        return round(lo / 1000.0, 4), round(hi / 1000.0, 4)


def _as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]
