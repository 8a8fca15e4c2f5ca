"""firmware/protection.py: every rule's trip, reset and delay, to the millisecond."""
import pytest
from hypothesis import given, settings as hsettings, strategies as st

import host_tools

host_tools.use_firmware()
import bank as fw_bank  # noqa: E402
import codes as C  # noqa: E402
from protection import Protection  # noqa: E402
from settings import Settings  # noqa: E402
from ticks import TICKS_PERIOD, ticks_add  # noqa: E402

LOOP_MV = 6600        # remote L and H joined: both at half the bank voltage
OPEN = (13300, 0)     # nothing connected: L pulled up, H pulled down


def make_bank(cells_mv=(3300,) * 4, temps_dc=(200,), n=1, spos=None):
    b = fw_bank.Bank()
    b.count = n
    for i in range(n):
        b.n_cells[i] = len(cells_mv)
        b.n_temps[i] = len(temps_dc)
        b.series_pos[i] = spos[i] if spos else 1
        for k, v in enumerate(cells_mv):
            b.cell_mv[i * fw_bank.MAX_CELLS + k] = v
        for k, t in enumerate(temps_dc):
            b.temp_dc[i * fw_bank.MAX_TEMPS + k] = t
        b.voltage_mv[i] = sum(cells_mv)
    b.compute_aggregates()
    return b


class Rig:
    """Drives Protection like the control loop: a reading every ``poll_ms``."""

    def __init__(self, start=0, **overrides):
        self.s = Settings()
        if overrides:
            self.s.update(overrides)
        self.p = Protection(self.s)
        self.t = start
        self.bank = make_bank()
        self.remote = (LOOP_MV, LOOP_MV)

    def at(self, ms, fresh=True, bank=None):
        """Update at ``ms`` after the rig's start, with a fresh reading by default."""
        if bank is not None:
            self.bank = bank
        self.p.update(ticks_add(self.t, ms), self.bank, fresh, *self.remote)
        return self.p

    def run(self, from_ms, to_ms, step=100, **kw):
        for ms in range(from_ms, to_ms + 1, step):
            self.at(ms, **kw)
        return self.p


def cells(v):
    return make_bank(cells_mv=(3300, v, 3300, 3300))


def test_startup_withdraws_both_until_the_first_reading():
    r = Rig()
    p = r.at(0, fresh=False, bank=None)
    assert (p.atc, p.atd) == (False, False)
    assert p.reasons(C.WITHDRAW_ATC) == [C.REASON_STARTUP]
    p = r.at(100)
    assert (p.atc, p.atd, p.pre_alarm) == (True, True, False)
    assert p.reasons(C.WITHDRAW_ATD) == []


@pytest.mark.parametrize("start", [0, TICKS_PERIOD - 700])   # also across the ticks_ms wrap
def test_pre_alarm_trips_below_3_1_v_after_exactly_its_delay(start):
    r = Rig(start)
    r.at(0)
    r.at(100, bank=cells(3100))            # at the trip value: not below it
    r.run(200, 5000)
    assert not r.p.active[C.W_B01]
    r.bank = cells(3099)
    r.at(6000)                             # first seen below
    assert not r.at(6999).active[C.W_B01]
    p = r.at(7000)
    assert p.active[C.W_B01] and p.pre_alarm and p.atd


def test_pre_alarm_delay_restarts_when_the_cell_recovers():
    r = Rig()
    r.at(0)
    r.at(100, bank=cells(3000))
    r.at(900, bank=cells(3150))            # recovered before 1 s
    r.at(1000, bank=cells(3000))
    assert not r.at(1999).active[C.W_B01]
    assert r.at(2000).active[C.W_B01]


def test_pre_alarm_resets_at_3_2_v():
    r = Rig()
    r.at(0)
    r.at(100, bank=cells(3000))
    r.at(1100)
    assert r.p.active[C.W_B01]
    assert r.at(1100, bank=cells(3199)).active[C.W_B01]
    assert not r.at(1200, bank=cells(3200)).active[C.W_B01]


def test_under_voltage_waits_30_s_of_pre_alarm_before_withdrawing_atd():
    """A cell falls from 3.3 V straight to 2.7 V: the pre-alarm comes after its
    1 s delay and ATD goes exactly 30 s after the pre-alarm, not 5 s after the sag."""
    r = Rig()
    r.at(0)
    r.at(1000, bank=cells(2700))
    r.at(2000)                              # pre-alarm delay elapsed
    assert r.p.pre_alarm and r.p.atd
    r.run(2100, 31900)
    assert r.p.atd and not r.p.active[C.A_B01]
    assert r.at(31999).atd
    p = r.at(32000)
    assert not p.atd and p.active[C.A_B01]
    assert p.reasons(C.WITHDRAW_ATD) == ["A-B01"]
    assert p.atc                            # under-voltage never stops charging


def test_under_voltage_after_a_long_pre_alarm_uses_its_own_5_s_delay():
    r = Rig()
    r.at(0, bank=cells(3050))
    r.run(100, 60000)                       # pre-alarm on for a minute
    r.at(60100, bank=cells(2799))
    assert r.at(65099).atd
    assert not r.at(65100).atd


def test_under_voltage_resets_when_every_cell_is_back_at_3_2_v():
    r = Rig()
    r.at(0, bank=cells(2700))               # the first reading: decided at once
    assert not r.p.atd
    r.run(100, 10000, bank=cells(3199))
    assert not r.p.atd
    p = r.at(10100, bank=cells(3200))
    assert p.atd and not p.active[C.A_B01] and not p.active[C.W_B01]


def test_first_reading_below_the_limit_never_allows_discharge():
    r = Rig()
    r.at(0, fresh=False)
    p = r.at(100, bank=cells(2500))
    assert not p.atd and p.active[C.A_B01] and p.pre_alarm
    assert p.atc


@pytest.mark.parametrize("code,metric,trip_ok,trip_bad,delay_ms,reset_hold,reset_ok", [
    (C.A_B02, "cell", 3750, 3751, 1000, 3551, 3550),     # over-voltage
    (C.A_B09, "temp", 500, 501, 5000, 451, 450),         # charge over-temperature 50 degC
    (C.A_B10, "temp", 50, 49, 5000, 59, 60),             # no charging below 5 degC
])
def test_charge_rules_trip_reset_and_delay(code, metric, trip_ok, trip_bad, delay_ms, reset_hold, reset_ok):
    mk = (lambda v: make_bank(cells_mv=(3300, 3300, v, 3300))) if metric == "cell" else \
        (lambda v: make_bank(temps_dc=(200, v)))
    r = Rig()
    r.at(0)
    r.run(100, 20000, bank=mk(trip_ok))
    assert r.p.atc and not r.p.active[code]
    r.at(20100, bank=mk(trip_bad))
    assert r.at(20100 + delay_ms - 1).atc
    p = r.at(20100 + delay_ms)
    assert not p.atc and p.active[code]
    assert p.reasons(C.WITHDRAW_ATC) == [C.text(code)]
    assert p.atd                                        # charge rules never stop discharge
    r.run(30000, 40000, bank=mk(reset_hold))
    assert not r.p.atc
    assert r.at(40100, bank=mk(reset_ok)).atc


def test_link_lost_warns_then_alarms_and_withdraws_both():
    r = Rig()
    r.at(0)
    r.run(100, 1000)                        # last reading at 1000 ms
    r.run(1100, 3900, fresh=False)
    assert not r.p.active[C.W_B05]
    p = r.at(4000, fresh=False)             # 3 s without a reading
    assert p.active[C.W_B05] and p.pre_alarm and p.atd and p.atc
    r.run(4100, 33900, fresh=False)
    assert r.p.atd and not r.p.active[C.A_B05]
    p = r.at(34000, fresh=False)            # 30 s after W-B05
    assert p.active[C.A_B05] and not p.atd and not p.atc
    assert p.reasons(C.WITHDRAW_ATC) == ["A-B05"] and p.reasons(C.WITHDRAW_ATD) == ["A-B05"]
    p = r.at(35000)                         # a good reading again
    assert p.atc and p.atd and not p.active[C.W_B05] and not p.active[C.A_B05] and not p.pre_alarm


def test_rules_freeze_while_the_link_is_lost_and_decide_at_once_when_it_returns():
    r = Rig()
    r.run(0, 1000)
    r.run(1100, 40000, fresh=False)         # A-B05 since 34 s
    assert not r.p.atd
    p = r.at(40100, bank=cells(2600))       # back, and the cells are flat
    assert not p.atd and p.active[C.A_B01] and not p.active[C.A_B05]


def test_a_missing_battery_counts_as_lost_until_accepted():
    r = Rig()
    two = make_bank(n=2)
    r.run(0, 1000, bank=two)
    one = make_bank(n=1)
    r.run(1100, 3900, bank=one)
    assert not r.p.active[C.W_B05]
    r.run(4000, 34000, bank=one)
    assert r.p.active[C.A_B05] and not r.p.atd
    r.p.accept_bank()
    p = r.at(34100, bank=one)
    assert p.atd and p.atc and not p.active[C.W_B05]


def test_nothing_answering_since_boot_is_e_b32():
    r = Rig()
    r.run(0, 2900, fresh=False, bank=None)
    assert not r.p.active[C.E_B32]
    p = r.at(3000, fresh=False)
    assert p.active[C.E_B32] and not p.atc and not p.atd
    assert p.reasons(C.WITHDRAW_ATD) == [C.REASON_STARTUP, "E-B32"]
    p = r.at(3100, bank=make_bank())
    assert not p.active[C.E_B32] and p.atd


def test_a_ring_with_no_battery_is_e_b32_at_boot():
    r = Rig()
    r.run(0, 3000, bank=_empty())
    assert r.p.active[C.E_B32]


def _empty():
    b = fw_bank.Bank()
    b.count = 0
    return b


def test_an_empty_ring_after_batteries_is_link_loss_then_e_b32():
    r = Rig()
    r.run(0, 1000)
    r.run(1100, 33900, bank=_empty())
    assert r.p.active[C.W_B05] and r.p.atd and not r.p.active[C.E_B32]
    p = r.at(34000)
    assert p.active[C.A_B05] and p.active[C.E_B32] and not p.atd


@pytest.mark.parametrize("l_mv,h_mv,on,state", [
    (LOOP_MV, LOOP_MV, True, "L-H loop"),
    (300, 0, True, "L low"),          # L pulled to battery minus (< 5 V)
    (13300, 13300, True, "H high"),   # H pulled high (> 3 V)
    (4999, 0, True, "L low"),
    (5000, 0, False, "off"),
    (13300, 3000, False, "off"),
    (13300, 3001, True, "H high"),
    (OPEN[0], OPEN[1], False, "off"),
])
def test_remote_electrical_modes(l_mv, h_mv, on, state):
    from protection import REMOTE_NAMES
    r = Rig()
    r.remote = (l_mv, h_mv)
    p = r.at(0)
    assert p.remote_on is on
    assert REMOTE_NAMES[p.remote_state] == state


def test_remote_off_default_function_opens_the_ports_only():
    r = Rig()
    r.run(0, 1000)
    r.remote = OPEN
    assert r.at(1100).remote_on                 # debounce: 200 ms
    p = r.at(1300)
    assert not p.remote_on
    assert p.atc and p.atd                      # protection outputs unchanged
    assert not p.alternator_port and not p.system_charge and not p.system_discharge
    r.remote = (LOOP_MV, LOOP_MV)
    r.at(1400)
    p = r.at(1600)
    assert p.remote_on and p.alternator_port and p.system_discharge


def test_remote_off_switch_everything_off():
    r = Rig(remote_function="all_off")
    r.run(0, 1000)
    r.remote = OPEN
    p = r.run(1100, 1500)
    assert not p.atc and not p.atd
    assert p.reasons(C.WITHDRAW_ATD) == [C.REASON_REMOTE_OFF]
    assert p.active_codes() == []               # not a fault


def test_soft_switch_acts_like_the_terminal():
    r = Rig(remote_function="all_off")
    r.run(0, 1000)
    r.p.set_soft_switch(False)
    p = r.at(1100)
    assert not p.remote_on and not p.atd and not p.atc
    r.p.set_soft_switch(True)
    assert r.at(1200).atd


def test_pre_alarm_not_available_keeps_the_output_off_but_not_the_lead():
    r = Rig(pre_alarm_usage="not_available")
    r.at(0, bank=cells(2700))
    r.at(100)
    r.run(200, 31000)
    assert not r.p.pre_alarm and r.p.active[C.W_B01]
    # the first reading decides at once: ATD was never allowed
    assert not r.p.atd


def test_settings_changes_apply_on_the_next_tick():
    r = Rig()
    r.run(0, 2000, bank=cells(3150))
    assert not r.p.active[C.W_B01]
    r.s.set("pre_alarm_trip_v", 3.18)
    r.at(2100)
    assert r.at(3100).active[C.W_B01]


@given(st.lists(st.tuples(st.integers(2400, 3900), st.integers(-200, 650), st.booleans(),
                          st.sampled_from([(LOOP_MV, LOOP_MV), OPEN])), min_size=1, max_size=150),
       st.sampled_from(["ports_only", "all_off"]))
@hsettings(max_examples=150, deadline=None)
def test_every_withdrawal_carries_its_reason(steps, function):
    r = Rig(remote_function=function)
    t = 0
    for mv, dc, fresh, remote in steps:
        r.remote = remote
        t += 700
        p = r.at(t, fresh=fresh, bank=make_bank(cells_mv=(3300, mv, 3300, 3300), temps_dc=(dc,)))
        assert p.atc or p.reasons(C.WITHDRAW_ATC)
        assert p.atd or p.reasons(C.WITHDRAW_ATD)
        assert not (p.atc and p.reasons(C.WITHDRAW_ATC))
        assert not (p.atd and p.reasons(C.WITHDRAW_ATD))
        for cid in range(C.N_CODES):
            if p.active[cid] and C.withdraws(cid) & C.WITHDRAW_ATD:
                assert not p.atd


def test_low_soc_warning_drives_the_pre_alarm_and_clears_above_its_margin():
    r = Rig()                                       # warning 20 %, margin 5 %
    p = r.at(0)
    p.update(100, r.bank, True, LOOP_MV, LOOP_MV, 201)
    assert not p.active[C.W_B07]
    p.update(200, r.bank, True, LOOP_MV, LOOP_MV, 200)
    assert p.active[C.W_B07] and p.pre_alarm and p.atd
    p.update(300, r.bank, True, LOOP_MV, LOOP_MV, 249)
    assert p.active[C.W_B07]
    p.update(400, r.bank, True, LOOP_MV, LOOP_MV, 250)
    assert not p.active[C.W_B07] and not p.pre_alarm


def test_discharge_limit_withdraws_atd_at_once_and_zero_disables_it():
    r = Rig()                                       # limit 10 %
    p = r.at(0)
    p.update(100, r.bank, True, LOOP_MV, LOOP_MV, 100)
    assert not p.atd and p.reasons(C.WITHDRAW_ATD) == ["A-B07"] and p.atc
    p.update(200, r.bank, True, LOOP_MV, LOOP_MV, 149)
    assert not p.atd
    p.update(300, r.bank, True, LOOP_MV, LOOP_MV, 150)
    assert p.atd
    r2 = Rig(discharge_limit_pct=0, low_soc_warning_pct=0)
    p2 = r2.at(0)
    p2.update(100, r2.bank, True, LOOP_MV, LOOP_MV, 0)
    assert p2.atd and not p2.active[C.W_B07]


def test_unknown_soc_raises_no_soc_code():
    r = Rig()
    p = r.at(0)
    p.update(100, r.bank, True, LOOP_MV, LOOP_MV, -1)
    assert not p.active[C.A_B07] and not p.active[C.W_B07]


def avg_bank(cell_mv):
    return make_bank(cells_mv=(cell_mv,) * 4)


def test_low_bank_voltage_a_b08_after_its_delay_and_the_pre_alarm_lead():
    r = Rig(cell_uv_trip_v=2.6, cell_uv_reset_v=2.9)   # keep A-B01 out of the way
    r.at(0)
    r.run(100, 60000, bank=avg_bank(3050))              # pre-alarm on for a minute
    r.at(60100, bank=avg_bank(2749))                    # average below 2.75 V
    assert r.at(70099).atd
    p = r.at(70100)
    assert not p.atd and p.reasons(C.WITHDRAW_ATD) == ["A-B08"]
    assert r.at(70200, bank=avg_bank(3200)).atd


def test_e_b09_outside_every_system_voltage():
    r = Rig()
    r.at(0)
    high = make_bank(cells_mv=(3300,) * 4, n=1)
    high.bank_mv = 60001
    r.at(100, bank=high)
    assert r.at(2099).atd
    p = r.at(2100)
    assert p.active[C.E_B09] and not p.atd and not p.atc
    ok = make_bank()
    assert not r.at(2200, bank=ok).active[C.E_B09]


def test_invalid_configurations_e_b01_and_e_b05():
    r = Rig()
    r.at(0)
    uneven = make_bank(n=3, spos=[1, 2, 1])
    r.at(100, bank=uneven)
    p = r.at(2100)
    assert p.active[C.E_B01] and not p.atd and not p.atc
    r2 = Rig()
    mixed = make_bank(n=2)
    mixed.n_cells[1] = 8
    mixed.compute_aggregates()
    p2 = r2.at(0, bank=mixed)                           # the first reading decides at once
    assert p2.active[C.E_B05] and not p2.atd
