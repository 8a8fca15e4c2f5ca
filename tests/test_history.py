"""firmware/history.py: extremes, totals, energy and cycles, in integers."""
import host_tools

host_tools.use_firmware()
import history as H  # noqa: E402
from monitor import Monitor  # noqa: E402
from settings import Settings  # noqa: E402
from bankutil import make_bank  # noqa: E402


def bank_at(cell_mv, current_ma, temp_dc=200):
    return make_bank(cells_mv=(cell_mv,) * 4, temps_dc=(temp_dc,), current_ma=current_ma)


def test_energy_charge_extremes_and_cycles():
    h = H.History()
    m = Monitor(Settings())
    m.set_capacity_ah(100)
    m.synchronise()
    h.full_charge()
    for _ in range(36000):                          # one hour at -50 A, 13.2 V
        m.update(100, -50000, 3300)                 # the tick's order: monitor, then history
        h.elapse(100)
        h.update(100, bank_at(3300, -50000), -50000, m)
    assert h.drawn_mah == 50000
    assert h.discharged_wh == 660                   # 13.2 V x 50 A x 1 h
    assert h.deepest_discharge_mah == -50000
    assert h.since_full_s == 3600
    for _ in range(18000):                          # back up at +100 A for 30 min, 14.0 V
        m.update(100, 100000, 3500)
        h.update(100, bank_at(3500, 100000, 350), 100000, m)
    assert h.charged_wh == 700
    assert h.cycles == 1                            # fell below 65 %, rose above 90 %
    assert (h.min_cell_mv, h.max_cell_mv, h.min_temp_dc, h.max_temp_dc) == (3300, 3500, 200, 350)
    assert (h.min_bank_mv, h.max_bank_mv) == (13200, 14000)
    assert h.synchronisations == 1


def test_restore_refuses_bad_values_and_changes_nothing():
    h = H.History()
    h.drawn_mah = 7
    try:
        h.restore({"drawn_mah": 1.5})
        raise AssertionError("accepted")
    except ValueError:
        pass
    assert h.drawn_mah == 7
    h.restore({"drawn_mah": 9, "min_cell_mv": None})
    assert h.drawn_mah == 9 and not h.changed


def test_energy_and_charge_use_the_counted_current_not_the_records():
    """With a shunt the bank current is the shunt's; the records may say 0."""
    h = H.History()
    m = Monitor(Settings())
    b = bank_at(3300, 0)
    for _ in range(36000):
        h.update(100, b, -10000, m)
    assert h.drawn_mah == 10000 and h.discharged_wh == 132 and h.charged_wh == 0
    for _ in range(36000):
        h.update(100, b, 0, m)
    assert h.drawn_mah == 10000


def test_extremes_come_from_the_reading():
    h = H.History()
    m = Monitor(Settings())
    h.update(100, make_bank(cells_mv=(3100, 3400, 3300, 3300), temps_dc=(-50, 310)), 0, m)
    assert (h.min_cell_mv, h.max_cell_mv, h.min_temp_dc, h.max_temp_dc) == (3100, 3400, -50, 310)
    assert h.min_bank_mv == h.max_bank_mv == 13100
    assert h.since_full_s == -1 and h.deepest_discharge_mah == 0       # SoC unknown: no depth


def test_time_since_full_counts_every_tick_even_without_readings():
    # the one "since full charge" counter (the balancer reads it); it runs whatever the link does
    h = H.History()
    h.elapse(5000)
    assert h.since_full_s == -1                     # never fully charged
    h.full_charge()
    for _ in range(25):
        h.elapse(100)
    assert h.since_full_s == 2
