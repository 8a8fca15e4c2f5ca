"""Output ports as objects: each applies the status record to one output.

``build(hw, settings, profile_name, bms)`` makes one object per output of the
model profile (``models``), on the pins of the board file (``hw``). Each has
``apply(status, dt)``, called in profile order at the end of every tick.
"""
import board as BD
import codes as C
import models as PF


class SwitchPort:
    """A digital output that follows one port's permission (``codes.PORT_*``)."""

    def __init__(self, hw, out, port):
        self.hw = hw
        self.out = out
        self.port = port

    def apply(self, st, dt):
        self.hw.set_output(self.out, st.allowed[self.port])


class ContactorOutput:
    """The Lynx Smart BMS's main contactor (and an aux output that follows it):
    closed while ATC or ATD is allowed, open when both are withdrawn: the
    everything-off cases (link lost, an invalid bank, a battery's fault, remote
    off with "switch everything off"; docs/models.md)."""

    def __init__(self, hw, out):
        self.hw = hw
        self.out = out

    def apply(self, st, dt):
        a = st.allowed
        self.hw.set_output(self.out, a[C.PORT_ATC] or a[C.PORT_ATD])


class PreAlarmOutput:
    """The pre-alarm output: continuous, or intermittent (on and off for
    ``pre_alarm_blink_s`` each, starting on; behaviour §1, §9). Writes
    ``status.pre_alarm_out``."""

    def __init__(self, hw, out, settings):
        self.hw = hw
        self.out = out
        self.settings = settings
        self._ms = 0
        self._version = -1

    def apply(self, st, dt):
        s = self.settings
        if self._version != s.version:
            self._intermittent = s.get("pre_alarm_mode") == "intermittent"
            self._half_ms = s.ms("pre_alarm_blink_s")
            self._version = s.version
            st.pre_alarm_blink_s = s.get("pre_alarm_blink_s") if self._intermittent else 0
        if not st.pre_alarm:
            self._ms = 0
            on = False
        elif not self._intermittent:
            on = True
        else:
            if st.pre_alarm_out or self._ms:
                self._ms = (self._ms + dt) % (2 * self._half_ms)
            on = self._ms < self._half_ms
        st.pre_alarm_out = on
        self.hw.set_output(self.out, on)


class LedOutput:
    """An indicator LED: bit ``led`` of ``status.leds`` (``indicators``)."""

    def __init__(self, hw, out, led):
        self.hw = hw
        self.out = out
        self.led = led

    def apply(self, st, dt):
        self.hw.set_output(self.out, (st.leds >> self.led) & 1)


class AlternatorGate:
    """The alternator port's MOSFET gate: PWM at the regulator's duty."""

    def __init__(self, hw, out, alternator):
        self.hw = hw
        self.out = out
        self.alt = alternator

    def apply(self, st, dt):
        self.hw.set_duty(self.out, self.alt.duty)


class SystemGate:
    """A System+ gate (charge, discharge or pre-charge) as ``system_port``
    decided; never closed once the comparator has fired since the tick began."""

    def __init__(self, hw, out, system, gate):
        self.hw = hw
        self.out = out
        self.sys = system
        self.gate = gate

    def apply(self, st, dt):
        p = self.sys
        g = self.gate
        on = p.charge if g == PF.SYS_GATE_CHARGE else (p.discharge if g == PF.SYS_GATE_DISCHARGE else p.precharge)
        hw = self.hw
        if on and hw.shorts != p.seen_shorts:
            on = False            # a short came in this tick: its handler opened the gate; keep it open
        hw.set_output(self.out, on)
        if on and hw.shorts != p.seen_shorts:
            # The interrupt came between the check and the write, and its handler
            # ran before the pin went on: open it again.
            hw.set_output(self.out, False)


def build(hw, settings, profile_name=PF.DEFAULT, alternator=None, system=None):
    """The port objects of ``profile_name`` on ``hw`` (a list, in profile order)."""
    out = []
    for name, kind, arg, _ in PF.outputs(profile_name):
        idx = BD.OUTPUT_NAMES.index(name)
        if kind == PF.KIND_PORT:
            out.append(SwitchPort(hw, idx, arg))
        elif kind == PF.KIND_PRE_ALARM:
            out.append(PreAlarmOutput(hw, idx, settings))
        elif kind == PF.KIND_LED:
            out.append(LedOutput(hw, idx, arg))
        elif kind == PF.KIND_ALTERNATOR:
            out.append(AlternatorGate(hw, idx, alternator))
        elif kind == PF.KIND_CONTACTOR:
            out.append(ContactorOutput(hw, idx))
        else:
            out.append(SystemGate(hw, idx, system, arg))
    return out
