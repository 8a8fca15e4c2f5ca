"""firmware/balancer.py: unknown / balanced / imbalanced / balancing, and the 30-day rule."""
import host_tools

host_tools.use_firmware()
import balancer as BL  # noqa: E402
from settings import Settings  # noqa: E402
from bankutil import make_bank  # noqa: E402


def test_unknown_until_a_full_charge_then_judged_by_the_spread_at_full():
    b = BL.Balancer(Settings())
    bank = make_bank(cells_mv=(3450, 3500, 3460, 3455))
    b.update(100, bank, True)
    assert b.status == BL.UNKNOWN                       # never fully charged
    b.full_charge(bank)                                 # spread 50 mV
    b.update(100, bank, True)
    assert b.status == BL.BALANCED
    wide = make_bank(cells_mv=(3450, 3600, 3460, 3455))
    b.full_charge(wide)                                 # spread 150 mV > 80
    b.update(100, wide, True)
    assert b.status == BL.IMBALANCED


def test_balancing_flag_wins_and_unknown_soc_or_a_changed_bank_is_unknown():
    b = BL.Balancer(Settings())
    bank = make_bank(n=2)
    b.full_charge(bank)
    bank.flags[1] = 1
    b.update(100, bank, True)
    assert b.status == BL.BALANCING
    bank.flags[1] = 0
    b.update(100, bank, False)
    assert b.status == BL.UNKNOWN
    b.update(100, make_bank(n=3), True)
    assert b.status == BL.UNKNOWN


def test_thirty_days_without_a_full_charge_is_unknown():
    b = BL.Balancer(Settings())
    bank = make_bank()
    b.full_charge(bank)
    day_ms = 86400 * 1000
    for _ in range(30):
        b.update(day_ms, bank, True)
    assert b.status == BL.BALANCED and b.since_full_s == 30 * 86400
    b.update(1000, bank, True)
    assert b.status == BL.UNKNOWN
