"""The control tick: link bytes -> bank -> protection -> outputs.

Data flows one way. ``Bms.tick(now_ms)`` is the whole of one control cycle; the
loop in ``main`` calls it every ``TICK_MS``. Nothing here reads a clock.
"""
from micropython import const

import board as B
import codes as C
from balancer import Balancer
from history import History
from link import LinkMaster
from monitor import UNKNOWN, Monitor
from protection import Protection
from ticks import ticks_diff

TICK_MS = const(100)          # control period; the link polls every 1000 ms
LED_BLINK_MS = const(500)     # status LED: blinking = warning (behaviour §8, smallBMS NG)


class Bms:
    """One BMS: ``hw`` (``hw.Hardware`` or a stand-in with the same methods) and
    ``settings`` (``settings.Settings``).

    After each ``tick``: ``protection`` holds the logical decisions,
    ``pre_alarm_out`` the pre-alarm pin state after continuous/intermittent
    shaping, ``link.bank`` the latest reading, ``ticks`` the tick count.
    """

    def __init__(self, hw, settings, persister=None):
        self.hw = hw
        self.settings = settings
        self.persister = persister      # persist.Persister, or None: nothing is stored
        self.history = persister.history if persister is not None else History()
        self.link = LinkMaster(hw.uart)
        self.protection = Protection(settings)
        self.monitor = Monitor(settings)
        self.balancer = Balancer(settings)
        self.ticks = 0
        self.shunt_ma = 0               # calibrated shunt current, mA (boards with a shunt)
        self._settings_version = -1     # settings read per tick are cached when they change
        self._offset_ma = 0
        self._intermittent = False
        self._blink_ms = 0
        self.now_ms = 0
        self.pre_alarm_out = False
        self._pre_ms = 0
        self._led_ms = 0
        self._last_ms = None
        self.stopped = False            # set by main.run when the loop ended on an error
        hw.all_safe()

    def tick(self, now_ms):
        dt = 0 if self._last_ms is None else ticks_diff(now_ms, self._last_ms)
        if dt < 0:
            dt = 0
        self._last_ms = now_ms
        self.now_ms = now_ms
        fresh = self.link.service(now_ms)
        link = self.link
        bank = link.bank if link.has_reading else None
        hw = self.hw
        p = self.protection
        m = self.monitor
        if self._settings_version != self.settings.version:
            self._load_settings()
        if hw.has_shunt:
            self.shunt_ma = hw.shunt_ma() - self._offset_ma
            if bank is not None:
                bank.bank_current_ma = self.shunt_ma    # the shunt overrides the batteries' sum
        if bank is not None and bank.count and not p.active[C.W_B05]:
            # Count with the latest reading's current while the link is healthy.
            if fresh:
                m.set_capacity_ah(_capacity_ah(bank))
            syncs = m.synchronised
            m.update(dt, bank.bank_current_ma, bank.bank_mv, bank.series * bank.n_cells[0])
            if m.synchronised != syncs:
                self._full_charge(bank)
            self.history.update(dt, bank, m)
        self.balancer.update(dt, bank, m.soc_pct10 != UNKNOWN)
        if self.persister is not None:
            p.active[C.E_B31] = 1 if self.persister.settings_status else 0
            self.persister.tick(dt)
        p.update(now_ms, bank, fresh, hw.remote_l_mv(), hw.remote_h_mv(), m.soc_pct10)
        hw.set_output(B.OUT_LOAD_DISCONNECT, p.atd)
        hw.set_output(B.OUT_CHARGE_DISCONNECT, p.atc)
        hw.set_output(B.OUT_ALTERNATOR_PORT, p.alternator_port)
        hw.set_output(B.OUT_SYSTEM_CHARGE, p.system_charge)
        hw.set_output(B.OUT_SYSTEM_DISCHARGE, p.system_discharge)
        self._shape_pre_alarm(dt)
        hw.set_output(B.OUT_PRE_ALARM, self.pre_alarm_out)
        self._status_led(dt)
        self.ticks += 1
        hw.feed()

    def _load_settings(self):
        # Converted once per change: settings.ms() multiplies floats, which would
        # allocate on every tick on the ESP32.
        s = self.settings
        self._offset_ma = s.milli("current_zero_offset_a")
        self._intermittent = s.get("pre_alarm_mode") == "intermittent"
        self._blink_ms = s.ms("pre_alarm_blink_s")
        self._settings_version = s.version

    def _shape_pre_alarm(self, dt):
        p = self.protection
        if not p.pre_alarm:
            self._pre_ms = 0
            self.pre_alarm_out = False
            return
        if not self._intermittent:
            self.pre_alarm_out = True
            return
        if self.pre_alarm_out or self._pre_ms:
            self._pre_ms += dt
        half = self._blink_ms
        self._pre_ms %= 2 * half
        self.pre_alarm_out = self._pre_ms < half

    def _status_led(self, dt):
        worst = 0
        a = self.protection.active
        for cid in range(C.N_CODES):
            if a[cid]:
                sev = C.severity(cid)
                if sev > worst:
                    worst = sev
        if worst >= C.SEVERITY_ALARM:
            on = True
        elif worst == C.SEVERITY_WARNING:
            self._led_ms = (self._led_ms + dt) % (2 * LED_BLINK_MS)
            on = self._led_ms < LED_BLINK_MS
        else:
            self._led_ms = 0
            on = False
        self.hw.set_output(B.OUT_STATUS_LED, on)

    def _full_charge(self, bank):
        self.balancer.full_charge(bank)
        self.history.full_charge()
        if self.persister is not None:
            self.persister.full_charge()

    def synchronise(self):
        """Manual "synchronise to 100 %" (behaviour §5)."""
        self.monitor.synchronise()
        if self.link.has_reading:
            self._full_charge(self.link.bank)

    def factory_reset(self):
        """Every setting to its default, saved at once (clears E-B31; behaviour §9)."""
        self.settings.reset_defaults()
        if self.persister is not None:
            self.persister.save_settings_now()

    def safe(self):
        """Every output to its safe state (used when the loop stops or crashes)."""
        self.hw.all_safe()



def _capacity_ah(bank):
    """Bank capacity: the batteries of one series position, in parallel, add up."""
    ah = 0
    for i in range(bank.count):
        if bank.series_pos[i] == 1:
            ah += bank.capacity_ah[i]
    return ah
