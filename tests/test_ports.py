"""firmware/ports.py: each output applies the status record to its pin; timing of
the pre-alarm (continuous / intermittent) and the status LED from the pin mock's
recorded transitions."""
import pytest

import host_tools
from bmsutil import Rig
from host_tools.vclock import TICKS_PERIOD, VirtualClock

START = TICKS_PERIOD - 1500          # the tick counter wraps 1.5 s in


class Outputs:
    """The port objects of a profile on the DevKitC board, a status record and a
    clock; ``alt`` / ``sys`` stand in for the power ports' logic (their fields
    are set by the test), the indicators run before the ports as in bms.py."""

    def __init__(self, profile=None, **overrides):
        self.clock = VirtualClock(START)
        self.pm = host_tools.use_firmware("esp32", self.clock)
        import board
        import hw
        import models
        import ports
        from alternator import AlternatorPort
        from indicators import Indicators
        from settings import Settings
        from status import Status
        from system_port import SystemPort
        self.s = Settings()
        if overrides:
            self.s.update(overrides)
        b = board.load(host_tools.board_path("esp32-devkitc"))
        self.pins = dict((name, o["pin"]) for name, o in b["outputs"].items())
        self.hw = hw.Hardware(b)
        name = profile or models.DEFAULT
        self.alt = AlternatorPort(self.s) if models.has_kind(name, models.KIND_ALTERNATOR) else None
        self.sys = SystemPort(self.s, True) if models.has_kind(name, models.KIND_SYSTEM) else None
        if profile is None:
            self.ports = ports.build(self.hw, self.s, alternator=self.alt, system=self.sys)
        else:
            self.ports = ports.build(self.hw, self.s, profile, self.alt, self.sys)
        self.ind = Indicators()
        self.st = Status()
        self.st.startup = False

    def run(self, ms, dt=100):
        for _ in range(ms // dt):
            self.ind.update(self.st, dt, self.alt, self.sys, False)
            for p in self.ports:
                p.apply(self.st, dt)
            self.clock.advance(dt)

    def level(self, name):
        return self.pm.level(self.pins[name])

    def edges(self, name):
        """[(ms since the start, level)] of one output, without the power-up level."""
        return [((t - START) % TICKS_PERIOD, v) for t, v in self.pm.pin_transitions(self.pins[name])][1:]


def test_the_default_profile_builds_every_output_in_order():
    import board as BD
    import codes as C
    import models as M
    import ports
    o = Outputs()
    kinds = [type(p).__name__ for p in o.ports]
    assert kinds == ["SwitchPort", "SwitchPort", "PreAlarmOutput", "LedOutput", "AlternatorGate", "SystemGate",
                     "SystemGate", "SystemGate"] + ["LedOutput"] * 7
    switched = [(BD.OUTPUT_NAMES[p.out], p.port) for p in o.ports if isinstance(p, ports.SwitchPort)]
    assert switched == [("load_disconnect", C.PORT_ATD), ("charge_disconnect", C.PORT_ATC)]
    gates = [(BD.OUTPUT_NAMES[p.out], p.gate) for p in o.ports if isinstance(p, ports.SystemGate)]
    assert gates == [("system_charge", M.SYS_GATE_CHARGE), ("system_discharge", M.SYS_GATE_DISCHARGE),
                     ("system_precharge", M.SYS_GATE_PRECHARGE)]
    assert all(p.alt is o.alt for p in o.ports if isinstance(p, ports.AlternatorGate))
    leds = [(BD.OUTPUT_NAMES[p.out], p.led) for p in o.ports if isinstance(p, ports.LedOutput)]
    assert [n for n, _ in leds] == ["status_led"] + [n for n in BD.OUTPUT_NAMES if n.startswith("led_")]


def test_the_smallbms_ng_profile_has_no_alternator_or_system_ports():
    o = Outputs("smallbms_ng")
    assert len(o.ports) == 5 and o.alt is None and o.sys is None
    for p in range(5):
        o.st.allowed[p] = 1
    o.run(300)
    assert o.level("load_disconnect") == 1 and o.level("charge_disconnect") == 1
    for name in ("alternator_port", "system_charge", "system_discharge", "system_precharge"):
        assert o.level(name) == 0 and o.edges(name) == []


def test_an_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="unknown model profile .smart_bms_9000. \\(known: smart_bms_12_200, "):
        Outputs("smart_bms_9000")


def test_switched_ports_follow_their_permission_and_power_gates_their_port_logic():
    o = Outputs()
    o.run(200)
    assert all(o.level(n) == 0 for n in o.pins if not n.startswith("led_"))
    o.st.allowed[:] = bytearray([1, 1, 1, 1, 1])
    o.run(100)
    levels = [o.level(n) for n in ("charge_disconnect", "load_disconnect", "alternator_port",
                                   "system_charge", "system_discharge", "system_precharge")]
    assert levels == [1, 1, 0, 0, 0, 0]        # the permission alone drives no power gate
    o.st.allowed[1] = 0
    o.run(100)
    assert o.edges("load_disconnect") == [(200, 1), (300, 0)]
    o.alt.duty = 30000
    o.sys.charge = True
    o.sys.precharge = True
    o.run(100)
    assert o.pm.pwm_duty(o.pins["alternator_port"]) == 30000 and o.level("alternator_port") == 1
    assert o.level("system_charge") == 1 and o.level("system_precharge") == 1 and o.level("system_discharge") == 0
    o.alt.duty = 0
    o.sys.precharge = False
    o.sys.discharge = True
    o.run(100)
    assert o.pm.pwm_duty(o.pins["alternator_port"]) == 0 and o.edges("alternator_port") == [(400, 1), (500, 0)]
    assert o.edges("system_precharge") == [(400, 1), (500, 0)] and o.edges("system_discharge") == [(500, 1)]


def test_a_system_gate_stays_open_after_a_short_its_port_has_not_seen_yet():
    o = Outputs()
    o.sys.charge = o.sys.discharge = True
    o.run(200)
    assert o.level("system_charge") == 1 and o.level("system_discharge") == 1
    o.clock.advance(37)
    o.pm.drive(4, 1)                            # the comparator: the handler opens the gates at once
    assert o.level("system_charge") == 0 and o.level("system_discharge") == 0 and o.hw.shorts == 1
    assert o.edges("system_discharge")[-1] == (237, 0)
    o.run(300)                                  # the port's logic still says closed: the gates stay open
    assert o.level("system_charge") == 0 and o.level("system_discharge") == 0
    o.sys.seen_shorts = 1                       # seen (the port trips and decides again)
    o.run(100)
    assert o.level("system_charge") == 1


def test_a_continuous_pre_alarm_is_one_edge_each_way():
    o = Outputs()
    o.run(500)
    o.st.pre_alarm = True
    o.run(10000)
    assert o.edges("pre_alarm") == [(500, 1)] and o.st.pre_alarm_out
    o.st.pre_alarm = False
    o.run(1000)
    assert o.edges("pre_alarm") == [(500, 1), (10500, 0)] and not o.st.pre_alarm_out


@pytest.mark.parametrize("blink_s", [1, 2])
def test_an_intermittent_pre_alarm_blinks_on_first_for_its_period_each_way(blink_s):
    o = Outputs(pre_alarm_mode="intermittent", pre_alarm_blink_s=blink_s)
    o.run(500)
    o.st.pre_alarm = True
    o.run(20000)
    edges = o.edges("pre_alarm")
    half = blink_s * 1000
    assert edges[0] == (500, 1)
    assert [v for _, v in edges] == [1, 0] * (len(edges) // 2) + [1] * (len(edges) % 2)
    assert {b[0] - a[0] for a, b in zip(edges, edges[1:])} == {half}
    assert len(edges) == 20000 // half


def test_an_intermittent_pre_alarm_starts_on_again_each_time():
    o = Outputs(pre_alarm_mode="intermittent")
    o.st.pre_alarm = True
    o.run(1500)                      # on 0..1000, off from 1000
    o.st.pre_alarm = False
    o.run(500)
    o.st.pre_alarm = True
    o.run(300)
    assert o.edges("pre_alarm") == [(0, 1), (1000, 0), (2000, 1)]


def test_the_pre_alarm_mode_follows_a_settings_change():
    o = Outputs()
    o.st.pre_alarm = True
    o.run(3000)
    o.s.set("pre_alarm_mode", "intermittent")
    o.run(3000)
    edges = o.edges("pre_alarm")
    assert edges[0] == (0, 1) and 3000 < edges[1][0] <= 4000 and edges[1][1] == 0
    assert [b[0] - a[0] for a, b in zip(edges[1:], edges[2:])] == [1000, 1000]


def test_status_led_off_without_codes_blinking_for_warnings_on_for_alarms():
    import codes as C
    o = Outputs()
    o.run(1000)
    assert o.edges("status_led") == [] and not o.st.led_on and o.st.leds & (1 << 7) == 0
    o.st.active[C.W_B01] = 1                     # a warning: blinking 0.5 s / 0.5 s
    o.run(5000)
    edges = o.edges("status_led")
    assert edges[0] == (1000, 1)
    assert {b[0] - a[0] for a, b in zip(edges[1:], edges[2:])} == {500}
    assert len(edges) >= 9
    o.st.active[C.A_B01] = 1                     # an alarm: steady on
    o.run(3000)
    assert o.level("status_led") == 1 and o.st.led_on
    assert all(t <= 6000 for t, _ in o.edges("status_led"))
    o.st.active[C.A_B01] = 0
    o.st.active[C.W_B01] = 0
    o.st.active[C.E_B31] = 1                     # an error: steady on
    o.run(2000)
    assert all(t <= 6000 for t, _ in o.edges("status_led")) and o.level("status_led") == 1
    o.st.active[C.E_B31] = 0
    o.run(100)
    assert o.level("status_led") == 0 and not o.st.led_on


def test_an_intermittent_pre_alarm_from_a_low_cell_on_the_pins():
    """End to end: a cell at 3.0 V raises W-B01; the logical pre-alarm stays on
    while the pin blinks, and the status LED blinks for the warning."""
    r = Rig(pre_alarm_mode="intermittent")
    r.run(1000)
    r.set_cell(3000)
    seen = []
    while r.t < 20000:
        r.run_for(100)
        seen.append(r.st.pre_alarm)
    edges = r.transitions("pre_alarm")[1:]
    assert edges[0] == (2200, 1)                 # the poll at 1.1 s, its reading at 1.2 s, 1 s of delay
    assert {b[0] - a[0] for a, b in zip(edges, edges[1:])} == {1000}
    assert seen[seen.index(True):] == [True] * (len(seen) - seen.index(True))
    assert len(r.transitions("status_led")) > 10 and r.st.active_codes() == ["W-B01"]
