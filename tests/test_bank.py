"""firmware/bank.py: aggregates and topology from the records."""
import host_tools

host_tools.use_firmware()
import bank as B  # noqa: E402


def fill(specs):
    """specs: [(series_pos, n_cells, cell_mv, voltage_mv, current_ma, temps)]"""
    b = B.Bank()
    b.count = len(specs)
    for i, (spos, nc, mv, vmv, ma, temps) in enumerate(specs):
        b.series_pos[i] = spos
        b.n_cells[i] = nc
        for k in range(nc):
            b.cell_mv[i * B.MAX_CELLS + k] = mv + k
        b.voltage_mv[i] = vmv
        b.current_ma[i] = ma
        b.n_temps[i] = len(temps)
        for k, t in enumerate(temps):
            b.temp_dc[i * B.MAX_TEMPS + k] = t
    b.compute_aggregates()
    return b


def test_two_in_parallel_is_a_12_v_bank():
    b = fill([(1, 4, 3300, 13200, 5000, [200]), (1, 4, 3310, 13240, 7000, [-15, 250])])
    assert (b.series, b.parallel, b.system_v, b.topology) == (1, 2, 12, B.TOPOLOGY_OK)
    assert b.bank_mv == 13220 and b.bank_current_ma == 12000
    assert (b.cell_min_mv, b.cell_max_mv, b.temp_min_dc, b.temp_max_dc) == (3300, 3313, -15, 250)
    assert b.cell_min_at == 0 and b.cell_max_at == B.MAX_CELLS + 3
    assert b.total_cells == 8


def test_four_in_series_twice_is_a_48_v_bank():
    specs = [(p, 4, 3300, 13200, 10000, [200]) for _ in range(2) for p in (1, 2, 3, 4)]
    b = fill(specs)
    assert (b.series, b.parallel, b.system_v, b.topology) == (4, 2, 48, B.TOPOLOGY_OK)
    assert b.bank_mv == 4 * 13200
    assert b.bank_current_ma == 20000      # two strings of 10 A


def test_24_v_batteries_in_parallel():
    b = fill([(1, 8, 3300, 26400, 0, [200])] * 3)
    assert (b.series, b.parallel, b.system_v) == (1, 3, 24)


def test_mixed_cell_counts_and_uneven_strings_are_flagged():
    assert fill([(1, 4, 3300, 13200, 0, [200]), (1, 8, 3300, 26400, 0, [200])]).topology == B.TOPOLOGY_MIXED_CELLS
    b = fill([(1, 4, 3300, 13200, 0, [200]), (2, 4, 3300, 13200, 0, [200]), (1, 4, 3300, 13200, 0, [200])])
    assert b.topology == B.TOPOLOGY_UNEVEN_STRINGS


def test_three_in_series_fits_no_system_voltage():
    b = fill([(p, 4, 3300, 13200, 0, [200]) for p in (1, 2, 3)])
    assert b.system_v == 0


def test_empty_bank():
    b = fill([])
    assert b.topology == B.TOPOLOGY_EMPTY and b.bank_mv == 0
