"""firmware/history.py: extremes, totals, energy and cycles, in integers."""
import host_tools

host_tools.use_firmware()
import history as H  # noqa: E402
from monitor import Monitor  # noqa: E402
from settings import Settings  # noqa: E402
from test_protection import make_bank  # noqa: E402


def bank_at(cell_mv, current_ma, temp_dc=200):
    b = make_bank(cells_mv=(cell_mv,) * 4, temps_dc=(temp_dc,))
    b.bank_current_ma = current_ma
    return b


def test_energy_charge_extremes_and_cycles():
    h = H.History()
    m = Monitor(Settings())
    m.set_capacity_ah(100)
    m.synchronise()
    h.full_charge()
    for _ in range(36000):                          # one hour at -50 A, 13.2 V
        m.update(100, -50000, 13200, 4)             # the tick's order: monitor, then history
        h.update(100, bank_at(3300, -50000), m)
    assert h.drawn_mah == 50000
    assert h.discharged_wh == 660                   # 13.2 V x 50 A x 1 h
    assert h.deepest_discharge_mah == -50000
    assert h.since_full_s == 3600
    for _ in range(18000):                          # back up at +100 A for 30 min, 14.0 V
        m.update(100, 100000, 14000, 4)
        h.update(100, bank_at(3500, 100000, 350), m)
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
