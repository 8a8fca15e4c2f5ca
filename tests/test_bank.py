"""firmware/bank.py: aggregates and topology from the records, also from partial
readings (the batteries that answered)."""
import host_tools
from bankutil import fill, make_bank

host_tools.use_firmware()
import bank as B  # noqa: E402


def test_two_in_parallel_is_a_12_v_bank():
    b = fill([(1, 4, 3300, 13200, 5000, [200]), (1, 4, 3310, 13240, 7000, [-15, 250])])
    assert (b.series, b.parallel, b.system_v, b.topology) == (1, 2, 12, B.TOPOLOGY_OK)
    assert b.bank_mv == 13220 and b.bank_current_ma == 12000
    assert b.series_cells == 4 and b.cell_avg_mv == 13220 // 4 and b.fault_count == 0
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
    assert b.cell_avg_mv == 0 and b.series_cells == 0 and b.fault_count == 0 and b.bank_current_ma == 0


def test_a_4s_bank_with_one_battery_missing_keeps_the_mean_cell_of_those_that_answered():
    full = fill([(p, 4, 3300, 13200, -8000, [200]) for p in (1, 2, 3, 4)])
    assert (full.cell_avg_mv, full.series_cells, full.bank_mv, full.system_v) == (3300, 16, 52800, 48)
    part = fill([(p, 4, 3300, 13200, -8000, [200]) for p in (1, 2, 4)])
    assert part.cell_avg_mv == 3300                    # not 39.6 V / 16 cells = 2.475 V
    assert part.series_cells == 12 and part.bank_mv == 39600 and part.series == 4
    assert part.topology == B.TOPOLOGY_UNEVEN_STRINGS and part.system_v == 0
    assert part.bank_current_ma == -8000               # the string's current, not 3/4 of it


def test_the_mean_cell_uses_each_position_s_mean_voltage():
    b = fill([(1, 4, 3300, 13000, 0, [200]), (1, 4, 3300, 13400, 0, [200]), (2, 4, 3300, 14000, 0, [200])])
    assert b.bank_mv == 13200 + 14000 and b.series_cells == 8 and b.cell_avg_mv == 27200 // 8


def test_the_current_of_a_missing_parallel_battery_is_estimated_from_its_string():
    # 2S2P: position 2 answered with one of its two batteries (each carries 5 A of a 10 A bank)
    b = fill([(1, 4, 3300, 13200, -5000, [200]), (1, 4, 3300, 13200, -5000, [200]),
              (2, 4, 3300, 13200, -5000, [200])])
    assert b.parallel == 2 and b.bank_current_ma == -10000
    full = fill([(p, 4, 3300, 13200, -5000, [200]) for p in (1, 1, 2, 2)])
    assert full.bank_current_ma == -10000


def test_the_current_is_the_mean_over_the_series_positions():
    # batteries in series carry one current; their reports differ by their sensors' errors
    b = fill([(1, 4, 3300, 13200, -10100, [200]), (2, 4, 3300, 13200, -9900, [200])])
    assert b.bank_current_ma == -10000
    c = fill([(1, 4, 3300, 13200, 7, [200]), (2, 4, 3300, 13200, 8, [200])])
    assert c.bank_current_ma == 7                      # integer mean, floor


def test_fault_flags_are_counted():
    b = make_bank(n=3, flags=[B.FLAG_FAULT, B.FLAG_BALANCING, B.FLAG_FAULT | B.FLAG_BALANCING])
    assert b.fault_count == 2
    assert make_bank(n=2, flags=B.FLAG_BALANCING).fault_count == 0


def test_aggregates_are_recomputed_from_scratch():
    b = make_bank(n=2, flags=B.FLAG_FAULT, current_ma=-1000)
    b.count = 1
    b.flags[0] = 0
    b.compute_aggregates()
    assert b.fault_count == 0 and b.parallel == 1 and b.bank_current_ma == -1000
    b.count = 0
    b.compute_aggregates()
    assert b.cell_min_mv == 0 and b.topology == B.TOPOLOGY_EMPTY


def test_serial_numbers_read_back():
    b = make_bank(n=2, serials=["HQ2207ABCDE", "X"])
    assert b.serial_str(0) == "HQ2207ABCDE" and b.serial_str(1) == "X"
