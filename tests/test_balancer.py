"""firmware/balancer.py: unknown / balanced / imbalanced / balancing, and the 30-day rule."""
import host_tools

host_tools.use_firmware()
import balancer as BL  # noqa: E402
from settings import Settings  # noqa: E402
from bankutil import make_bank  # noqa: E402


def test_unknown_until_a_full_charge_then_judged_by_the_spread_at_full():
    b = BL.Balancer(Settings())
    bank = make_bank(cells_mv=(3450, 3500, 3460, 3455))
    b.update(bank, True, -1)
    assert b.status == BL.UNKNOWN                       # never fully charged
    b.update(bank, True, 100)
    assert b.status == BL.UNKNOWN                       # a full charge before boot: spread not seen
    b.full_charge(bank)                                 # spread 50 mV
    b.update(bank, True, 0)
    assert b.status == BL.BALANCED
    wide = make_bank(cells_mv=(3450, 3600, 3460, 3455))
    b.full_charge(wide)                                 # spread 150 mV > 80
    b.update(wide, True, 0)
    assert b.status == BL.IMBALANCED


def test_balancing_flag_wins_and_unknown_soc_or_a_changed_bank_is_unknown():
    b = BL.Balancer(Settings())
    bank = make_bank(n=2)
    b.full_charge(bank)
    bank.flags[1] = 1
    b.update(bank, True, 0)
    assert b.status == BL.BALANCING
    bank.flags[1] = 0
    b.update(bank, False, 0)
    assert b.status == BL.UNKNOWN
    b.update(make_bank(n=3), True, 0)
    assert b.status == BL.UNKNOWN


def test_thirty_days_without_a_full_charge_is_unknown():
    b = BL.Balancer(Settings())
    bank = make_bank()
    b.full_charge(bank)
    b.update(bank, True, 30 * 86400)
    assert b.status == BL.BALANCED
    b.update(bank, True, 30 * 86400 + 1)
    assert b.status == BL.UNKNOWN


def test_the_30_days_come_from_the_history_through_the_tick():
    import inbox as I
    from bmsutil import Rig
    r = Rig()
    r.run(1000)
    r.app.inbox.post((I.SYNCHRONISE,))
    r.run(2000)
    assert 0 <= r.app.history.since_full_s <= 1 and r.app.balancer.status == BL.BALANCED
