"""firmware/monitor.py: coulomb counting, synchronisation, consumed Ah, TTG."""
import pytest

import host_tools

host_tools.use_firmware()
from monitor import UNKNOWN, Monitor  # noqa: E402
from settings import Settings  # noqa: E402


def mon(ah=100, **overrides):
    s = Settings()
    if overrides:
        s.update(overrides)
    m = Monitor(s)
    m.set_capacity_ah(ah)
    return m


def run(m, seconds, current_ma, cell_mv=3300, step_ms=100):
    """``cell_mv``: the mean cell voltage of the batteries that answered (0: no recent reading)."""
    for _ in range(int(seconds * 1000 // step_ms)):
        m.update(step_ms, current_ma, cell_mv)


def test_soc_is_unknown_until_synchronised_or_set():
    m = mon()
    run(m, 60, -10000)
    assert m.soc_pct10 == UNKNOWN and m.ttg_min == -1


def test_synchronises_after_the_detection_time_at_charged_voltage_and_tail_current():
    m = mon()                                     # 100 Ah: tail = 4 A; charged = 3.50 V a cell
    run(m, 179.9, 3999, cell_mv=3500)
    assert m.soc_pct10 == UNKNOWN
    run(m, 0.1, 3999, cell_mv=3500)
    assert m.soc_pct10 == 1000 and m.consumed_mah == 0 and m.synchronised == 1


@pytest.mark.parametrize("mv,ma", [(3499, 1000), (3500, 4000), (0, 0)])
def test_no_sync_below_the_voltage_or_at_the_tail_current_or_without_a_recent_reading(mv, ma):
    m = mon()
    run(m, 400, ma, cell_mv=mv)
    assert m.soc_pct10 == UNKNOWN


def test_the_detection_timer_restarts_when_a_condition_drops():
    m = mon()
    run(m, 170, 1000, cell_mv=3525)
    run(m, 1, 1000, cell_mv=3475)
    run(m, 170, 1000, cell_mv=3525)
    assert m.soc_pct10 == UNKNOWN
    run(m, 10, 1000, cell_mv=3525)
    assert m.soc_pct10 == 1000


def test_coulomb_counting_is_exact_in_integers():
    m = mon()
    m.synchronise()
    run(m, 3600, -25000)                          # 25 Ah out of 100
    assert m.consumed_mah == -25000 and m.soc_pct10 == 750
    run(m, 1800, 10000)                           # 5 Ah back
    assert m.consumed_mah == -20000 and m.soc_pct10 == 800


def test_tiny_currents_accumulate_without_loss():
    m = mon()
    m.set_soc(50)
    run(m, 3600, -1, step_ms=100)                 # 1 mA for an hour = 1 mAh
    assert m._charge_mah == 49999 and m._rem_mams == 0


def test_soc_is_clamped_at_full_and_empty():
    m = mon()
    m.set_soc(99.5)
    run(m, 3600, 5000)
    assert m.soc_pct10 == 1000 and m.consumed_mah == 0
    m.set_soc(0.2)
    run(m, 3600, -5000)
    assert m.soc_pct10 == 0


def test_time_to_go_to_the_discharge_limit_at_the_filtered_current():
    m = mon()
    m.set_soc(60)                                 # 60 Ah in; limit 10 %: 50 Ah usable
    run(m, 600, -10000)                           # 10 A for 10 min: the filter has settled
    # usable now 50 - 1.667 Ah = 48.333 Ah at 10 A: 290 minutes
    assert 289 <= m.ttg_min <= 290
    run(m, 60, 10000)
    assert m.ttg_min == -1                        # charging: no time-to-go


def test_filter_smooths_a_short_spike():
    m = mon()
    m.set_soc(80)
    run(m, 600, -10000)
    before = m.ttg_min
    run(m, 1, -200000)                            # a 1 s inverter surge
    assert m.ttg_min > before * 0.7            # unfiltered it would read about 20 minutes


def test_set_soc_refuses_bad_values_and_keeps_the_old_one():
    m = mon()
    m.set_soc(42)
    for bad in (-1, 100.5, "50", True, None):
        with pytest.raises(ValueError):
            m.set_soc(bad)
    assert m.soc_pct10 == 420


def test_a_fifteen_thousand_ah_bank_counts_exactly():
    m = mon(ah=15000)
    m.set_soc(50)
    run(m, 3600, -1000000)                        # 1 000 A for an hour
    assert m.consumed_mah == -8500000 and m.soc_pct10 == 433


def test_the_charged_voltage_is_per_cell_whatever_the_system():
    """The mean cell of the batteries that answered: a 48 V bank with a battery
    missing synchronises at the same cell voltage as a 12 V one."""
    m = mon(charged_cell_v=3.45)
    run(m, 180, 0, cell_mv=3450)
    assert m.synchronised == 1


def test_nothing_counts_without_a_capacity_or_time():
    s = Settings()
    m = Monitor(s)
    m.set_soc(50)
    run(m, 60, -10000)
    assert m.consumed_mah == 0 and m.soc_pct10 == 500
    m.set_capacity_ah(100)
    assert m.soc_pct10 == 500 and m.consumed_mah == -50000
    m.update(0, -10000, 3300)
    m.update(-100, -10000, 3300)
    assert m.consumed_mah == -50000


def test_a_capacity_change_keeps_the_soc():
    m = mon()
    m.set_soc(40)
    m.set_capacity_ah(300)
    assert m.soc_pct10 == 400 and m.consumed_mah == -180000


def test_soc_accuracy_benchmark_machinery_tells_good_from_bad():
    """Not a performance test: one cycle each, to prove the benchmark measures."""
    from host_tools import bench
    good = bench.soc_accuracy(cycles=1)
    assert good["run_ok"] and good["synchronisations"] >= 1
    assert good["max_error_pct"] <= 2.0
    bad = bench.soc_accuracy(cycles=1, gain_error_pct=8.0, offset_a=3.0)
    assert bad["max_error_pct"] > 2.0


def test_one_synchronisation_a_charge_a_bank_held_full_does_not_count_again():
    # Found by the soak: a charger holding the bank at full "synchronised" every
    # 3 minutes, each asking for a history write.
    m = mon()                                     # 100 Ah
    run(m, 180, 1000, cell_mv=3550)
    assert m.synchronised == 1
    run(m, 3 * 3600, 1000, cell_mv=3550)          # three hours more at full
    assert m.synchronised == 1 and m.soc_pct10 == 1000
    run(m, 3600 * 0.9 / 10, -10000, cell_mv=3300)    # 0.9 Ah out: 99.1 %, not yet re-armed
    assert m.soc_pct10 == 991
    run(m, 400, 1000, cell_mv=3550)
    assert m.synchronised == 1
    run(m, 3.6 * 25, -10000, cell_mv=3300)        # 0.25 Ah more, below 99.0 %: armed again
    assert m.soc_pct10 <= 990
    run(m, 180, 1000, cell_mv=3550)
    assert m.synchronised == 2 and m.soc_pct10 == 1000


def test_the_next_charge_synchronises_even_when_the_count_reached_100_first():
    # Found by the soak: the count reaches 100 % (clamped) before the bank is
    # truly full; the full charge that follows must still synchronise (the
    # history's last full charge, the balancer's spread at full).
    m = mon()
    run(m, 180, 1000, cell_mv=3550)
    assert m.synchronised == 1
    run(m, 3600 * 2, -10000, cell_mv=3300)        # 20 Ah out: 80 %
    run(m, 3600 * 2.5, 10000, cell_mv=3400)       # 25 Ah in: the count says 100 % (clamped)
    assert m.soc_pct10 == 1000 and m.synchronised == 1
    run(m, 180, 1000, cell_mv=3550)               # the bank really reaches full
    assert m.synchronised == 2
