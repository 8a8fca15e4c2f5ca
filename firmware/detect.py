"""Detectors: the state of every diagnosis row at this tick, from the tick's facts.

``Detectors.evaluate(cid, obs, active)`` returns a ``qualifier`` state for row
``cid`` of ``codes.TABLE``: ``HARD`` / ``TRIP`` / ``BAND`` / ``CLEAR`` from the
row's thresholds, or ``HOLD`` when there is nothing to judge it on. Thresholds
are the row's settings converted once per settings change to integers (mV,
0.1 °C, 0.1 %, ms). Pure logic: no clock, no allocation per call.
"""
from array import array
from micropython import const

import bank as B
import codes as C
from ntc import SENSOR_OPEN, SENSOR_SHORT
from qualifier import BAND, CLEAR, HARD, HOLD, TRIP

# E-B09 (behaviour §7): the bank's nominal voltage fits no 12/24/48 V system
# (the 12 V-only models: above 15 V, ``Detectors.set_limits``).
BANK_MIN_MV = const(9000)
BANK_MAX_MV = const(60000)
BMS_OPEN_PLAUSIBLE_DC = const(-150)   # an open BMS NTC with the batteries above -15 °C is a broken wire
_NO_LIMIT = const(-(1 << 29))


class Observation:
    """The facts of one tick that diagnosis judges (filled by ``bms``).

    ``bank``: the latest accepted ``bank.Bank`` with at least one battery, or
    None. ``fresh``: it arrived this tick. ``stale``: it is older than
    ``link_lost_warn_s``. ``complete``: every expected battery answered in it.
    ``at_once``: decide data rules without their delay this tick (the first
    reading). ``at_once_new``: the reading has batteries the previous one lacked;
    their own cells (``bank.sel_*``) are decided at once.
    ``link_state``: the link-health state W-B05 and A-B05 watch (``link_health``).
    ``no_battery``: E-B32's condition. ``soc_pct10``: SoC in 0.1 %, -1 unknown.
    ``current_ma``: the bank current counted this tick, ``current_known``.
    ``capacity_ah``: the bank's capacity (0 while unknown).
    ``config_bad``: stored settings corrupt or missing (E-B31). ``implausible``:
    the latest answer held a value outside its physical range (E-B11).
    ``stuck_cells``: cells whose reading froze while their battery moved (E-B11, ``stuck``).
    ``bms_temp_dc``: the BMS's MOSFET temperature in 0.1 °C, ``None`` on a board
    without that sensor, ``ntc.SENSOR_OPEN`` / ``ntc.SENSOR_SHORT`` (a short is
    A-B15; so is an open sensor while the batteries are warmer than it can show).
    ``port_tripped``: a power port is open after a trip (A-A12).
    """

    def __init__(self):
        self.bank = None  # type: B.Bank | None
        self.fresh = False
        self.stale = False
        self.complete = False
        self.at_once = False
        self.at_once_new = False
        self.link_state = CLEAR
        self.no_battery = False
        self.soc_pct10 = -1
        self.current_ma = 0
        self.current_known = False
        self.capacity_ah = 0
        self.config_bad = False
        self.implausible = False
        self.stuck_cells = 0
        self.bms_temp_dc = None  # type: int | None
        self.port_tripped = False


def is_data_row(det):
    """Rows judged on the batteries' readings (decided at once on a new reading)."""
    return C.D_CELL_LOW <= det <= C.D_BANK_LOW or C.D_BANK_RANGE <= det <= C.D_BATTERY_FAULT


class Detectors:
    """Per-row thresholds (``trip``, ``reset``, ``hard``, ``delay_ms``,
    ``clear_ms``) and the evaluation of each row's detector."""

    def __init__(self, settings):
        self.settings = settings
        n = C.N_CODES
        self.trip = array("i", bytes(4 * n))
        self.reset = array("i", bytes(4 * n))
        self.hard = array("i", bytes(4 * n))
        self.delay_ms = array("i", bytes(4 * n))
        self.clear_ms = array("i", bytes(4 * n))
        self.version = -1
        self.max_bank_mv = BANK_MAX_MV
        self.max_batteries = B.MAX_BATTERIES
        self.max_batteries_48v = B.MAX_BATTERIES
        self.load()

    def set_limits(self, max_system_v, max_batteries, max_batteries_48v):
        """The model's limits (``models``, behaviour §6, §12): a bank whose nominal
        voltage is above ``max_system_v`` (12 or 48) is E-B09, one with more
        batteries than ``max_batteries`` (``max_batteries_48v`` at 48 V) E-B01."""
        self.max_bank_mv = BANK_MAX_MV if max_system_v >= 48 else max_system_v * 1250
        self.max_batteries = max_batteries
        self.max_batteries_48v = max_batteries_48v

    def load(self):
        """Convert the rows' settings to integers (call when settings changed)."""
        s = self.settings
        for cid in range(C.N_CODES):
            row = C.TABLE[cid]
            det = row[4]
            if det == C.D_SOC_LOW:
                self.trip[cid] = _pct10(s, row[5])
                self.reset[cid] = self.trip[cid] + _pct10(s, row[6])
                self.hard[cid] = _NO_LIMIT
            else:
                conv = s.deci_c if det == C.D_TEMP_HIGH or det == C.D_TEMP_LOW or det == C.D_BMS_TEMP else s.mv
                self.trip[cid] = conv(row[5]) if row[5] else 0
                self.reset[cid] = conv(row[6]) if row[6] else 0
                self.hard[cid] = conv(row[8]) if row[8] else _NO_LIMIT
            self.delay_ms[cid] = s.ms(row[7]) if row[7] else 0
            clear = row[9]
            if clear == "delay":
                self.clear_ms[cid] = self.delay_ms[cid]
            else:
                self.clear_ms[cid] = s.ms(clear) if clear else 0
        self.version = s.version

    def evaluate(self, cid, obs, active, new=False):
        """The detector state of row ``cid``; ``active`` is the codes' active flags
        (rows earlier in the table are already updated for this tick). ``new``:
        judge the cell and temperature rows on the new batteries only."""
        det = C.TABLE[cid][4]
        b = obs.bank
        if det <= C.D_BANK_LOW:
            if det == C.D_NONE:
                return CLEAR
            if b is None:
                return HOLD
            if det == C.D_CELL_LOW:
                return self._low(cid, b.sel_cell_min_mv if new else b.cell_min_mv)
            if det == C.D_CELL_HIGH:
                return self._high(cid, b.sel_cell_max_mv if new else b.cell_max_mv)
            if det == C.D_TEMP_HIGH:
                return self._high(cid, b.sel_temp_max_dc if new else b.temp_max_dc)
            if det == C.D_TEMP_LOW:
                return self._low(cid, b.sel_temp_min_dc if new else b.temp_min_dc)
            if b.topology == B.TOPOLOGY_MIXED_CELLS:
                return HOLD          # no meaningful mean cell voltage: E-B05 speaks
            return self._low(cid, b.cell_avg_mv)
        if det == C.D_SOC_LOW:
            level = self.trip[cid]
            soc = obs.soc_pct10
            if level <= 0 or soc < 0 or soc >= self.reset[cid]:
                return CLEAR
            return TRIP if soc <= level else BAND
        if det == C.D_LINK:
            return obs.link_state
        if det == C.D_CONFIG:
            return TRIP if obs.config_bad else CLEAR
        if det == C.D_NO_BATTERY:
            return TRIP if obs.no_battery else CLEAR
        if det == C.D_BMS_TEMP:
            t = obs.bms_temp_dc
            if t is None:
                return CLEAR          # no sensor on this board (docs/alternator.md)
            if t == SENSOR_SHORT:
                return TRIP           # shorted, or hotter than the sensor can show
            if t == SENSOR_OPEN:
                # Colder than the sensor can show (about -25 °C), or a broken wire:
                # broken, when the batteries beside it are warmer than that.
                return TRIP if b is not None and b.temp_min_dc > BMS_OPEN_PLAUSIBLE_DC else CLEAR
            return self._high(cid, t)
        if det == C.D_PORT_TRIP:
            return TRIP if obs.port_tripped else CLEAR
        if det == C.D_BATTERY_FAULT:
            if obs.implausible or obs.stuck_cells:
                return TRIP
            if b is None:
                return HOLD
            return TRIP if b.fault_count else CLEAR
        if b is None:
            return HOLD
        # Bank checks judge only a complete, fresh reading: a missing battery is
        # W-B05 / A-B05, never an invalid configuration.
        if obs.stale or not obs.complete:
            return HOLD
        if det == C.D_BANK_RANGE:
            # What the bank *is* (its cells in series at the LiFePO4 nominal 3.2 V),
            # not what it reads under a load or a charger: a sag is the cell
            # rules' business, with their lead (docs/protection.md, E-B09).
            mv = b.series_cells * B.NOMINAL_CELL_MV
            return TRIP if mv < BANK_MIN_MV or mv > self.max_bank_mv else CLEAR
        if det == C.D_UNEVEN:
            # Uneven strings, or more batteries than the model takes (behaviour §6).
            most = self.max_batteries_48v if b.system_v == 48 else self.max_batteries
            return TRIP if b.topology == B.TOPOLOGY_UNEVEN_STRINGS or b.count > most else CLEAR
        return TRIP if b.topology == B.TOPOLOGY_MIXED_CELLS else CLEAR

    def _low(self, cid, v):
        if v < self.hard[cid]:
            return HARD
        if v < self.trip[cid]:
            return TRIP
        return CLEAR if v >= self.reset[cid] else BAND

    def _high(self, cid, v):
        hard = self.hard[cid]
        if hard != _NO_LIMIT and v > hard:
            return HARD
        if v > self.trip[cid]:
            return TRIP
        return CLEAR if v <= self.reset[cid] else BAND


def _pct10(s, name):
    # A % setting as 0.1 % integer steps.
    return int(s.get(name) * 10 + 0.5)
