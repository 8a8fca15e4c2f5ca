"""firmware/system_port.py: the System+ gates, the pre-charge path and the
short-circuit latch (behaviour §4, A-A12), tick by tick.

``Port`` runs one tick the way bms.py does: ``protect`` with the comparator's
count, the permissions (``decide``: withdrawn while the port is tripped), then
``update``. System+ is a capacitive load: the discharge gate puts it at the
lithium voltage at once, the pre-charge resistor raises it by ``charge_v`` per
tick (0: a short or a load too heavy for the resistor)."""
import pytest

import host_tools

host_tools.use_firmware()
import system_port as SP  # noqa: E402
from settings import Settings  # noqa: E402
from system_port import SystemPort  # noqa: E402

LI_MV = 13200


class Port:
    def __init__(self, can_precharge=True, sensed=True, charge_v=4.0, **overrides):
        s = Settings()
        if overrides:
            s.update(overrides)
        self.p = SystemPort(s, can_precharge)
        self.sensed = sensed
        self.charge_mv = int(charge_v * 1000)
        self.sys_mv = 0
        self.shorts = 0
        self.allow_charge = self.allow_discharge = True
        self.t = -100
        self.log = []                # (t, charge, discharge, precharge, state)

    def tick(self, dt=100):
        p = self.p
        p.protect(dt, self.shorts)
        ok = not p.trip.tripped
        p.update(dt, self.allow_charge and ok, self.allow_discharge and ok,
                 self.sys_mv if self.sensed else None, LI_MV if self.sensed else None)
        self.t += dt
        self.log.append((self.t, p.charge, p.discharge, p.precharge, p.state))
        if p.discharge:
            self.sys_mv = LI_MV
        elif p.precharge:
            self.sys_mv = min(LI_MV, self.sys_mv + self.charge_mv)
        else:
            self.sys_mv = 0
        return p

    def run(self, ms):
        for _ in range(ms // 100):
            self.tick()
        return self.p

    def short(self):
        """The comparator fires between ticks (hw's handler counts it)."""
        self.shorts += 1

    def closes_at(self, limit_ms):
        """Tick until the discharge gate closes; its time, or None."""
        for _ in range(limit_ms // 100):
            if self.tick().discharge:
                return self.t
        return None


def test_pre_charge_first_then_the_discharge_gate():
    x = Port(charge_v=4.0)               # 0, 4, 8, 12, 13.2 V
    p = x.tick()
    assert (p.charge, p.discharge, p.precharge, p.state) == (True, False, True, SP.SYS_PRECHARGE)
    x.run(200)
    assert not p.discharge and p.precharge and x.sys_mv == 12000
    x.run(300)                           # 13.2 V seen at 400 ms: the gate closes
    assert [(t, d, pc) for t, _, d, pc, _ in x.log[3:6]] == [(300, False, True), (400, True, True),
                                                              (500, True, False)]
    assert p.state == SP.SYS_CLOSED and not p.trip.tripped


def test_the_gate_closes_within_the_margin_not_before():
    x = Port(charge_v=0)
    x.tick()
    x.sys_mv = LI_MV - 501
    x.run(1000)
    assert not x.p.discharge and x.p.precharge
    x.sys_mv = LI_MV - 500
    assert x.tick().discharge


def test_a_pre_charge_that_never_finishes_trips_after_3_s():
    x = Port(charge_v=0)
    x.run(3000)                          # pre-charging from 0 to 2.9 s
    assert x.p.precharge and x.p.precharge_ms == 2900 and not x.p.trip.tripped
    p = x.tick()                         # 3 s
    assert p.trip.tripped and p.state == SP.SYS_TRIPPED and p.trip.trips == 1
    assert (p.charge, p.discharge, p.precharge) == (False, False, False)
    x.run(4900)
    assert all(not c and not d and not pc for _, c, d, pc, _ in x.log[-49:])


def test_the_pre_charge_timeout_follows_its_setting():
    x = Port(charge_v=0, precharge_timeout_s=0.5)
    x.run(500)
    assert not x.p.trip.tripped
    assert x.tick().trip.tripped


@pytest.mark.parametrize("can,sensed", [(False, True), (True, False)])
def test_without_a_pre_charge_path_or_sense_the_gate_closes_at_once(can, sensed):
    x = Port(can_precharge=can, sensed=sensed, charge_v=0)
    p = x.tick()
    assert p.discharge and p.charge and not p.precharge and p.state == SP.SYS_CLOSED
    x.run(10000)
    assert not any(pc for _, _, _, pc, _ in x.log) and not p.trip.tripped


def test_the_directions_follow_their_own_permission():
    x = Port()
    x.run(1000)
    x.allow_discharge = False
    p = x.tick()
    assert p.charge and not p.discharge and not p.precharge
    x.allow_charge = False
    x.allow_discharge = True
    p = x.tick()
    assert not p.charge and p.precharge and not p.discharge   # pre-charge again: System+ fell
    x.allow_discharge = False
    p = x.tick()
    assert (p.charge, p.discharge, p.precharge, p.state) == (False, False, False, SP.SYS_OPEN)


def test_a_short_opens_every_gate_and_trips():
    x = Port()
    x.run(2000)
    assert x.p.charge and x.p.discharge
    x.short()
    p = x.tick()
    assert (p.charge, p.discharge, p.precharge) == (False, False, False)
    assert p.trip.tripped and p.state == SP.SYS_TRIPPED and p.seen_shorts == 1 and p.trip.trips == 1
    x.run(1000)
    assert p.trip.trips == 1                  # one short, one trip


def test_a_short_during_pre_charge_trips():
    x = Port(charge_v=1.0)
    x.run(300)
    assert x.p.precharge
    x.short()
    p = x.tick()
    assert p.trip.tripped and not p.precharge and not p.discharge


def _pause(x):
    """Short now; ms from the tick that sees it to the tick the gates close again."""
    x.short()
    x.tick()
    t0 = x.t
    assert x.p.trip.tripped
    for _ in range(2000):
        if x.tick().charge:
            return x.t - t0
    return None


def test_retries_pause_5_20_80_s_then_the_port_stays_locked():
    x = Port()
    x.run(1000)
    pauses = []
    for _ in range(3):
        pauses.append(_pause(x))
        x.run(2000)                          # closed again for 2 s: not stable
        assert x.p.charge and x.p.discharge
    assert [round(p, -3) for p in pauses] == [5000, 20000, 80000]
    assert all(4900 * k <= p <= 5000 * k for p, k in zip(pauses, (1, 4, 16)))
    assert _pause(x) is None                 # 200 s more: still open
    p = x.p
    assert p.trip.locked and p.state == SP.SYS_LOCKED and not p.charge and not p.discharge
    assert p.trip.trips == 4 and p.trip.wait_ms == 0


def test_the_first_retry_comes_system_retry_s_after_the_short_is_seen():
    x = Port()
    x.run(1000)
    assert _pause(x) == 5000


def test_a_user_action_releases_a_lock():
    x = Port(system_retries=0)
    x.run(1000)
    assert _pause(x) is None and x.p.trip.locked
    x.p.user_action()
    p = x.tick()
    assert not p.trip.tripped and p.charge and p.state in (SP.SYS_PRECHARGE, SP.SYS_CLOSED)
    x.run(1000)
    assert p.discharge and p.state == SP.SYS_CLOSED and p.trip.failed == 0


def test_a_user_action_releases_a_waiting_retry():
    x = Port()
    x.run(1000)
    x.short()
    x.tick()
    x.p.user_action()
    assert x.tick().charge


def test_a_retry_that_holds_60_s_forgets_the_earlier_trips():
    x = Port()
    x.run(1000)
    assert _pause(x) in (4900, 5000)
    x.run(60000)                              # the discharge gate closes after its pre-charge:
    assert x.p.trip.failed == 1               # held counts from then (the charge gate alone is not it)
    x.run(500)
    assert x.p.trip.failed == 0
    assert _pause(x) in (4900, 5000)          # the first pause again
    x.run(59000)                              # not quite stable
    assert x.p.trip.failed == 1
    assert _pause(x) in (19900, 20000)
