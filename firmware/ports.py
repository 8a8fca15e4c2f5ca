"""Output ports as objects: each applies the status record to one output.

``build(hw, settings, profile_name)`` makes one object per output of the model
profile (``models``), on the pins of the board file (``hw``). Each has
``apply(status, dt)``, called in profile order at the end of every tick.
"""
from micropython import const

import board as BD
import codes as C
import models as PF

LED_BLINK_MS = const(500)     # status LED: blinking = warning (behaviour §8, smallBMS NG)


class SwitchPort:
    """A digital output that follows one port's permission (``codes.PORT_*``)."""

    def __init__(self, hw, out, port):
        self.hw = hw
        self.out = out
        self.port = port

    def apply(self, st, dt):
        self.hw.set_output(self.out, st.allowed[self.port])


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


class StatusLed:
    """Off: no code; blinking: warnings only; on: an alarm or error (behaviour §8)."""

    def __init__(self, hw, out):
        self.hw = hw
        self.out = out
        self._ms = 0

    def apply(self, st, dt):
        worst = 0
        a = st.active
        for cid in range(C.N_CODES):
            if a[cid]:
                sev = C.TABLE[cid][1]
                if sev > worst:
                    worst = sev
        if worst >= C.SEVERITY_ALARM:
            on = True
        elif worst == C.SEVERITY_WARNING:
            self._ms = (self._ms + dt) % (2 * LED_BLINK_MS)
            on = self._ms < LED_BLINK_MS
        else:
            self._ms = 0
            on = False
        st.led_on = on
        self.hw.set_output(self.out, on)


def build(hw, settings, profile_name=PF.DEFAULT):
    """The port objects of ``profile_name`` on ``hw`` (a list, in profile order)."""
    out = []
    for name, kind, port in PF.outputs(profile_name):
        idx = BD.OUTPUT_NAMES.index(name)
        if kind == PF.KIND_PORT:
            out.append(SwitchPort(hw, idx, port))
        elif kind == PF.KIND_PRE_ALARM:
            out.append(PreAlarmOutput(hw, idx, settings))
        else:
            out.append(StatusLed(hw, idx))
    return out
