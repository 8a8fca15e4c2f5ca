"""Banks for the unit tests: ``bank.Bank`` objects filled directly, as the link
layer would fill them from a valid frame (aggregates computed, serial hashes set)."""
import host_tools

host_tools.use_firmware()
import bank as B  # noqa: E402


def serial_hash(serial):
    """The link layer's 24-bit hash of a 12-byte serial (link.decode_records)."""
    raw = serial.encode()[:B.SERIAL_LEN]
    raw = raw + b"\x00" * (B.SERIAL_LEN - len(raw))
    h = 0
    for c in raw:
        h = (h * 31 + c) & 0xFFFFFF
    return h


def make_bank(cells_mv=(3300,) * 4, temps_dc=(200,), n=1, spos=None, current_ma=0, flags=0,
              serials=None, capacity_ah=100):
    """``n`` identical batteries of ``cells_mv`` / ``temps_dc``; ``spos`` their series
    positions (default all 1: in parallel); ``current_ma`` / ``flags`` per battery
    (an int for all, or a list); ``serials`` default ``SN1``, ``SN2``, ..."""
    b = B.Bank()
    b.count = n
    for i in range(n):
        serial = serials[i] if serials else "SN%d" % (i + 1)
        raw = serial.encode()
        for k in range(B.SERIAL_LEN):
            b.serial[i * B.SERIAL_LEN + k] = raw[k] if k < len(raw) else 0
        b.serial_hash[i] = serial_hash(serial)
        b.capacity_ah[i] = capacity_ah
        b.n_cells[i] = len(cells_mv)
        b.n_temps[i] = len(temps_dc)
        b.series_pos[i] = spos[i] if spos else 1
        b.current_ma[i] = current_ma[i] if isinstance(current_ma, (list, tuple)) else current_ma
        b.flags[i] = flags[i] if isinstance(flags, (list, tuple)) else flags
        for k, v in enumerate(cells_mv):
            b.cell_mv[i * B.MAX_CELLS + k] = v
        for k, t in enumerate(temps_dc):
            b.temp_dc[i * B.MAX_TEMPS + k] = t
        b.voltage_mv[i] = sum(cells_mv)
    b.compute_aggregates()
    return b


def cells(v, n=1):
    """One cell at ``v`` mV, the others at 3.3 V."""
    return make_bank(cells_mv=(3300, v, 3300, 3300), n=n)


def temps(dc):
    """Cells at 3.3 V, one sensor at ``dc`` (0.1 degC) and one at 20 degC."""
    return make_bank(temps_dc=(200, dc))


def fill(specs):
    """specs: [(series_pos, n_cells, cell_mv, voltage_mv, current_ma, temps)]; cell k
    of each battery reads ``cell_mv + k``."""
    b = B.Bank()
    b.count = len(specs)
    for i, (spos, nc, mv, vmv, ma, tl) in enumerate(specs):
        b.series_pos[i] = spos
        b.n_cells[i] = nc
        for k in range(nc):
            b.cell_mv[i * B.MAX_CELLS + k] = mv + k
        b.voltage_mv[i] = vmv
        b.current_ma[i] = ma
        b.n_temps[i] = len(tl)
        for k, t in enumerate(tl):
            b.temp_dc[i * B.MAX_TEMPS + k] = t
    b.compute_aggregates()
    return b
