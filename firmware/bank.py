"""The decoded battery bank: every battery's record and the bank's aggregates.

Storage is preallocated for ``MAX_BATTERIES`` so decoding a reading allocates
nothing. Units are integers: mV, mA, tenths of a degree C (``dc``). The link layer
fills a staging ``Bank`` and swaps it in only when a whole frame was valid, so a
``Bank`` is never half-updated (docs/link-protocol.md).
"""
from array import array
from micropython import const

MAX_BATTERIES = const(50)   # behaviour §6: smallBMS NG, up to 50 batteries
MAX_CELLS = const(16)       # a 51.2 V LiFePO4 battery holds 16 cells
MAX_TEMPS = const(4)
SERIAL_LEN = const(12)
NOMINAL_CELL_MV = const(3200)  # LiFePO4 nominal cell voltage

# Topology verdicts.
TOPOLOGY_OK = const(0)
TOPOLOGY_EMPTY = const(1)
TOPOLOGY_MIXED_CELLS = const(2)     # batteries disagree on their cell count
TOPOLOGY_UNEVEN_STRINGS = const(3)  # series positions hold different battery counts
TOPOLOGY_NAMES = ("ok", "no batteries", "mixed cell counts", "uneven series strings")

FLAG_BALANCING = const(1)
FLAG_FAULT = const(2)


class Bank:
    """One complete reading of the bank.

    Per battery ``i`` (0-based, ring order): ``serial`` bytes at
    ``[i*SERIAL_LEN:(i+1)*SERIAL_LEN]``, ``capacity_ah[i]``, ``fw_version[i]``
    (major << 8 | minor), ``voltage_mv[i]``, ``current_ma[i]`` (+ = charging),
    ``flags[i]``, ``series_pos[i]`` (1-based), ``n_cells[i]``, ``n_temps[i]``,
    cells at ``cell_mv[i*MAX_CELLS + k]`` and temperatures at
    ``temp_dc[i*MAX_TEMPS + k]`` (0.1 degC).

    Aggregates, valid when ``count > 0``, all from the batteries that answered
    (a missing battery never makes a healthy bank look low): ``cell_min_mv``,
    ``cell_max_mv``, ``temp_min_dc``, ``temp_max_dc``, ``bank_mv`` (sum over the
    series positions that answered of their mean battery voltage),
    ``series_cells`` (cells in series over those positions), ``cell_avg_mv``
    (``bank_mv / series_cells``), ``bank_current_ma`` (mean over the answering
    positions of the position's current, scaled up where a parallel battery is
    missing), ``fault_count`` (batteries flagging an internal fault), ``series``,
    ``parallel``, ``total_cells``, ``system_v`` (12, 24 or 48, 0 if none fits),
    ``topology`` (a ``TOPOLOGY_*`` verdict).
    """

    def __init__(self):
        n = MAX_BATTERIES
        self.count = 0
        self.serial = bytearray(n * SERIAL_LEN)
        # A 24-bit hash of each serial (link.decode_records): a battery that the
        # previous reading lacked is found without comparing bytes.
        # -1 is no 24-bit hash: the first reading at each place copies its serial
        # (decode_records copies only when the hash changes).
        self.serial_hash = array("i", [-1] * n)
        self.capacity_ah = array("H", bytes(2 * n))
        self.fw_version = array("H", bytes(2 * n))
        self.voltage_mv = array("H", bytes(2 * n))
        self.current_ma = array("i", bytes(4 * n))
        self.flags = array("H", bytes(2 * n))
        self.series_pos = bytearray(n)
        self.n_cells = bytearray(n)
        self.n_temps = bytearray(n)
        self.cell_mv = array("H", bytes(2 * n * MAX_CELLS))
        self.temp_dc = array("h", bytes(2 * n * MAX_TEMPS))
        self._per_pos = array("H", bytes(2 * (MAX_BATTERIES + 1)))
        self._pos_mv = array("i", bytes(4 * (MAX_BATTERIES + 1)))
        self._pos_ma = array("i", bytes(4 * (MAX_BATTERIES + 1)))
        self._pos_cells = bytearray(MAX_BATTERIES + 1)
        self.clear_aggregates()

    def clear_aggregates(self):
        self.cell_min_mv = 0
        self.cell_max_mv = 0
        self.cell_min_at = 0   # battery index * MAX_CELLS + cell index
        self.cell_max_at = 0
        self.temp_min_dc = 0
        self.temp_max_dc = 0
        self.bank_mv = 0
        self.cell_avg_mv = 0
        self.series_cells = 0
        self.fault_count = 0
        self.bank_current_ma = 0
        self.sel_cell_min_mv = 0
        self.sel_cell_max_mv = 0
        self.sel_cell_min_at = 0
        self.sel_cell_max_at = 0
        self.sel_temp_min_dc = 0
        self.sel_temp_max_dc = 0
        self.series = 0
        self.parallel = 0
        self.total_cells = 0
        self.system_v = 0
        self.topology = TOPOLOGY_EMPTY

    def extremes_of(self, mask=None):
        """Cell and temperature extremes over the batteries with ``mask[i]`` set
        (a bytearray; None: every battery) into ``sel_cell_min_mv``,
        ``sel_cell_max_mv``, ``sel_temp_min_dc``, ``sel_temp_max_dc`` and the cells'
        places ``sel_cell_min_at``, ``sel_cell_max_at``. ``compute_aggregates`` uses
        it for the bank; link health for the batteries judged at once. No allocation."""
        cmin = 0xFFFF
        cmax = -1
        tmin = 32767
        tmax = -32768
        for i in range(self.count):
            if mask is not None and not mask[i]:
                continue
            base = i * MAX_CELLS
            for k in range(self.n_cells[i]):
                v = self.cell_mv[base + k]
                if v < cmin:
                    cmin = v
                    self.sel_cell_min_at = base + k
                if v > cmax:
                    cmax = v
                    self.sel_cell_max_at = base + k
            base = i * MAX_TEMPS
            for k in range(self.n_temps[i]):
                t = self.temp_dc[base + k]
                if t < tmin:
                    tmin = t
                if t > tmax:
                    tmax = t
        self.sel_cell_min_mv = cmin
        self.sel_cell_max_mv = cmax
        self.sel_temp_min_dc = tmin
        self.sel_temp_max_dc = tmax

    def set_extremes(self, cmin, cmax, cmin_at, cmax_at, tmin, tmax):
        """The extremes over every battery, found by the decoder while it stored the
        values (what ``extremes_of(None)`` would find: the first cell holding each),
        into the ``sel_*`` fields."""
        self.sel_cell_min_mv = cmin
        self.sel_cell_max_mv = cmax
        self.sel_cell_min_at = cmin_at
        self.sel_cell_max_at = cmax_at
        self.sel_temp_min_dc = tmin
        self.sel_temp_max_dc = tmax

    def capacity_total_ah(self):
        """The bank's capacity: the batteries of one series position, in
        parallel, add up."""
        ah = 0
        for i in range(self.count):
            if self.series_pos[i] == 1:
                ah += self.capacity_ah[i]
        return ah

    def serial_str(self, i):
        """Battery ``i``'s serial number as str (trailing NULs and spaces dropped)."""
        raw = bytes(self.serial[i * SERIAL_LEN:(i + 1) * SERIAL_LEN])
        return raw.decode().rstrip("\x00 ")

    def compute_aggregates(self, extremes=True):
        """Derive min/max, bank voltage and current and the topology from the records.
        ``extremes=False``: the ``sel_*`` fields already hold the extremes over every
        battery (``set_extremes``)."""
        n = self.count
        if n == 0:
            self.clear_aggregates()
            return
        if extremes:
            self.extremes_of(None)
        total_cells = 0
        faults = 0
        per_pos = self._per_pos
        pos_mv = self._pos_mv
        pos_ma = self._pos_ma
        pos_cells = self._pos_cells
        for p in range(MAX_BATTERIES + 1):
            per_pos[p] = 0
            pos_mv[p] = 0
            pos_ma[p] = 0
            pos_cells[p] = 0
        series = 0
        cells0 = self.n_cells[0]
        mixed = False
        for i in range(n):
            nc = self.n_cells[i]
            if nc != cells0:
                mixed = True
            total_cells += nc
            if self.flags[i] & FLAG_FAULT:
                faults += 1
            p = self.series_pos[i]
            per_pos[p] += 1
            pos_mv[p] += self.voltage_mv[i]
            pos_ma[p] += self.current_ma[i]
            pos_cells[p] = nc
            if p > series:
                series = p
        self.cell_min_mv = self.sel_cell_min_mv
        self.cell_max_mv = self.sel_cell_max_mv
        self.cell_min_at = self.sel_cell_min_at
        self.cell_max_at = self.sel_cell_max_at
        self.temp_min_dc = self.sel_temp_min_dc
        self.temp_max_dc = self.sel_temp_max_dc
        self.total_cells = total_cells
        self.fault_count = faults
        self.series = series
        parallel = 0
        for p in range(1, series + 1):
            if per_pos[p] > parallel:
                parallel = per_pos[p]
        uneven = False
        bank_mv = 0
        series_cells = 0
        positions = 0
        amps = 0
        for p in range(1, series + 1):
            k = per_pos[p]
            if k != parallel:
                uneven = True
            if k:
                positions += 1
                bank_mv += pos_mv[p] // k
                series_cells += pos_cells[p]
                # Every battery of a series string carries the string's current;
                # a missing parallel battery's share is estimated from the others.
                amps += pos_ma[p] // k * parallel
        self.parallel = parallel
        self.bank_mv = bank_mv
        self.series_cells = series_cells
        self.cell_avg_mv = bank_mv // series_cells
        self.bank_current_ma = amps // positions
        if mixed:
            self.topology = TOPOLOGY_MIXED_CELLS
        elif uneven:
            self.topology = TOPOLOGY_UNEVEN_STRINGS
        else:
            self.topology = TOPOLOGY_OK
        nominal_mv = series * cells0 * NOMINAL_CELL_MV
        self.system_v = 0
        if not mixed and not uneven:
            if nominal_mv == 12800:
                self.system_v = 12
            elif nominal_mv == 25600:
                self.system_v = 24
            elif nominal_mv == 51200:
                self.system_v = 48
