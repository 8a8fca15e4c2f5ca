"""firmware/inputs.py: the remote terminal (classification, debounce, soft switch,
user actions) and the current the battery monitor counts."""
import pytest

import host_tools
from bankutil import make_bank

host_tools.use_firmware()
import inputs as I  # noqa: E402
from inputs import Current, Remote  # noqa: E402
from settings import Settings  # noqa: E402

BANK_MV = 13300
LOOP = (6600, 6600)      # L and H joined: both near half the bank voltage
OPEN = (13300, 0)        # nothing connected: L pulled up, H pulled down


def remote(**overrides):
    s = Settings()
    if overrides:
        s.update(overrides)
    return Remote(s)


@pytest.mark.parametrize("l_mv,h_mv,on,state", [
    (6600, 6600, True, "L-H loop"),
    (300, 0, True, "L low"),          # L pulled to battery minus (< 5 V)
    (13300, 13300, True, "H high"),   # H pulled high (> 3 V)
    (4999, 0, True, "L low"),
    (5000, 0, False, "off"),
    (13300, 3000, False, "off"),
    (13300, 3001, True, "H high"),
    (6600, 6300, True, "H high"),     # 300 mV apart: not joined
    (6600, 6301, True, "L-H loop"),
    (10000, 10000, True, "H high"),   # above 3/4 of the bank: H wired to plus
    (OPEN[0], OPEN[1], False, "off"),
])
def test_remote_electrical_modes(l_mv, h_mv, on, state):
    r = remote()
    r.update(0, l_mv, h_mv, BANK_MV)                 # the first reading counts at once
    assert r.on is on and r.terminal_on is on
    assert I.REMOTE_NAMES[r.state] == state


def test_thresholds_follow_the_settings():
    r = remote(remote_l_on_below_v=3.5, remote_h_on_above_v=2.9)   # smallBMS NG
    r.update(0, 3600, 0, BANK_MV)
    assert not r.on
    r2 = remote(remote_l_on_below_v=3.5, remote_h_on_above_v=2.9)
    r2.update(0, 13300, 2901, BANK_MV)
    assert r2.on


def test_a_change_counts_after_200_ms_of_debounce():
    r = remote()
    r.update(0, *LOOP, BANK_MV)
    r.update(100, *OPEN, BANK_MV)                   # t0: first seen off
    r.update(199, *OPEN, BANK_MV)
    assert r.on
    r.update(1, *OPEN, BANK_MV)
    assert not r.on and r.state == I.REMOTE_OFF


def test_a_bounce_restarts_the_debounce():
    r = remote()
    r.update(0, *LOOP, BANK_MV)
    r.update(100, *OPEN, BANK_MV)
    r.update(150, *LOOP, BANK_MV)                   # bounced back
    r.update(100, *OPEN, BANK_MV)
    r.update(199, *OPEN, BANK_MV)
    assert r.on
    r.update(1, *OPEN, BANK_MV)
    assert not r.on


def test_a_change_of_wiring_that_stays_on_is_shown_at_once():
    r = remote()
    r.update(0, *LOOP, BANK_MV)
    r.update(100, 300, 0, BANK_MV)
    assert r.on and r.state == I.REMOTE_L_LOW and not r.switched_on


def test_the_soft_switch_is_anded_with_the_terminal():
    r = remote()
    r.update(0, *LOOP, BANK_MV)
    r.soft_on = False
    r.update(100, *LOOP, BANK_MV)
    assert not r.on and r.terminal_on and not r.switched_on
    r.soft_on = True
    r.update(100, *LOOP, BANK_MV)
    assert r.on and r.switched_on                   # off and on again: a user action
    r.update(100, *LOOP, BANK_MV)
    assert not r.switched_on                        # only on the tick it came on


def test_the_terminal_off_and_on_again_is_a_user_action():
    r = remote()
    r.update(0, *LOOP, BANK_MV)
    seen = []
    for k in range(20):
        r.update(100, *(OPEN if 2 <= k < 6 else LOOP), BANK_MV)
        seen.append((r.on, r.switched_on))
    # off seen at k=2, counted at k=4; on seen at k=6, counted at k=8
    assert [on for on, _ in seen] == [True] * 4 + [False] * 4 + [True] * 12
    assert [k for k, (_, sw) in enumerate(seen) if sw] == [8]


def test_no_user_action_at_power_up():
    for l_mv, h_mv in (LOOP, OPEN):
        r = remote()
        r.update(0, l_mv, h_mv, BANK_MV)
        assert not r.switched_on


def test_a_remote_off_at_power_up_then_on_is_a_user_action():
    r = remote()
    r.update(0, *OPEN, BANK_MV)
    r.update(100, *LOOP, BANK_MV)
    r.update(200, *LOOP, BANK_MV)
    assert r.on and r.switched_on


def current(shunt=False, **overrides):
    s = Settings()
    if overrides:
        s.update(overrides)
    return Current(s, shunt)


def test_a_shunt_is_read_every_tick_with_its_zero_offset():
    c = current(True, current_zero_offset_a=-0.25)
    c.update(10000, None, 0, False)
    assert (c.ma, c.known, c.source) == (10250, True, I.SOURCE_SHUNT)
    c.update(-3000, make_bank(current_ma=99999), 10 ** 6, True)      # the batteries' figure never counts
    assert (c.ma, c.known) == (-2750, True)


def test_without_a_shunt_a_complete_readings_current_counts_while_fresh():
    c = current()
    b = make_bank(n=2, current_ma=[-4000, -6000])
    c.update(0, b, 0, True)
    assert (c.ma, c.known, c.source) == (-10000, True, I.SOURCE_RECORDS)
    c.update(0, b, 1099, False)
    assert (c.ma, c.source) == (-10000, I.SOURCE_RECORDS)


def test_an_incomplete_reading_does_not_change_the_current():
    # a missing parallel battery's share is not in the others' records
    c = current()
    c.update(0, make_bank(n=2, current_ma=[-5000, -5000]), 0, True)
    c.update(0, make_bank(n=1, current_ma=[-5000]), 1000, False)
    assert (c.ma, c.known) == (-10000, True)


def test_without_a_shunt_the_last_current_is_held_for_current_hold_s_and_not_after():
    # old core: the last current was counted only until W-B05 (3 s), never across a longer gap
    c = current()
    b = make_bank(current_ma=-20000)
    c.update(0, b, 0, True)
    c.update(0, b, 1100, False)
    assert (c.ma, c.known, c.source) == (-20000, True, I.SOURCE_HELD)
    c.update(0, b, 10000, False)
    assert c.known and c.source == I.SOURCE_HELD
    c.update(0, b, 10001, False)
    assert not c.known and c.source == I.SOURCE_NONE
    c.update(0, b, 10101, False)                   # stays unknown until a complete reading
    assert not c.known
    c.update(0, b, 0, True)
    assert c.known
    c2 = current(current_hold_s=30)
    c2.update(0, b, 0, True)
    c2.update(0, b, 29999, False)
    assert c2.known


def test_no_reading_no_current():
    c = current()
    c.update(0, None, 0, False)
    assert not c.known and c.source == I.SOURCE_NONE


def test_source_names_cover_every_source():
    assert len(I.SOURCE_NAMES) == 4 and I.SOURCE_NAMES[I.SOURCE_HELD] == "held"
    assert len(I.REMOTE_NAMES) == 4
