"""The control tick: the stages of one BMS cycle, in a fixed order.

Data flows one way: link bytes -> bank -> link health and inputs (remote,
current, the power ports' sensors and the short-circuit latch) -> battery
monitor -> diagnosis (detectors, qualifier) -> decide (port permissions with
reasons) -> the power ports (alternator regulator, System+ gates) -> status
record -> Bluetooth (advertisement, GATT values) -> indicators -> output
ports. Commands from the REPL and Bluetooth wait in ``inbox`` and are applied
at one point of the tick; no other context writes the core's state. Nothing here reads a clock: ``tick(now_ms)``.
"""
from micropython import const

import alarm_state as AS  # noqa: F401  (the type of Bms.alarm_state; main.build makes one)
import codes as C
import decide as D
import models as PF
import ports as P
from balancer import Balancer
from detect import Observation
from diagnosis import Diagnosis
from history import History
from indicators import Indicators
from inbox import (ACCEPT_BANK, CLEAR_HISTORY, FACTORY_RESET, RESET_ALARMS, SET_PIN, SET_SOC, SETTINGS, UPDATING,
                   SOFT_SWITCH, SYNCHRONISE, Inbox)
from inputs import Current, Remote
from link import LinkMaster
from link_health import LinkHealth
from models import DEFAULT as DEFAULT_PROFILE
from power import PowerPorts
from monitor import UNKNOWN, Monitor
from status import Status
from stuck import StuckCells
from ticks import ticks_diff

running = None  # the Bms that main.main() started (diag finds it here)
TICK_MS = const(100)          # control period; the link polls as fast as the wire allows (link.py)
RELEASE_OFF_MS = const(1000)  # remote off this long, then on: releases a locked power port


class Bms:
    """One BMS on ``hw`` (``hw.Hardware`` or a stand-in with its methods) with
    ``settings`` (``settings.Settings``), an optional ``persister``
    (``persist.Persister``) and a model profile (``models.PROFILES``).

    Read the state from ``status`` (``status.Status``); change it only through
    ``inbox`` (``inbox.Inbox``).
    """

    def __init__(self, hw, settings, persister=None, profile=DEFAULT_PROFILE):
        self.hw = hw
        self.settings = settings
        self.profile = profile
        p = PF.profile(profile)
        self._has_remote = bool(p[2] & PF.FEAT_REMOTE)
        self._power_port = PF.has_power_port(profile)
        self.persister = persister
        self.missed_ticks = 0           # control periods main._loop skipped after an overrun or a stall
        self.updating = False           # a firmware update is being staged (update.py): no charging
        self.healthy_hook = None        # called once, after the first healthy tick (main.main, docs/update.md)
        # Set by main.build when there is a filesystem (docs/reliability.md).
        self.alarm_state = None  # type: AS.AlarmState | None
        self.history = persister.history if persister is not None else History()
        self.link = LinkMaster(hw.uart)
        self.link_health = LinkHealth(settings)
        self.remote = Remote(settings)
        self.current = Current(settings, hw.has_shunt)
        self.monitor = Monitor(settings)
        self.balancer = Balancer(settings)
        self.stuck = StuckCells(settings)
        self.diagnosis = Diagnosis(settings)
        self.diagnosis.detectors.set_limits(p[3], p[4], p[5])
        self.inbox = Inbox()
        # The bound method made once: ``self._apply`` in the tick would allocate a
        # bound-method object (16 bytes) on every tick under MicroPython.
        self._apply_cmd = self._apply
        self.status = Status()
        self.status.active = self.diagnosis.active
        self.status.link_errors = self.link.errors
        self.power = PowerPorts(settings, profile, hw)
        self.alternator = self.power.alternator
        self.system = self.power.system
        self.indicators = Indicators()
        self.status.led_mask = PF.leds(profile)
        if not PF.has_kind(profile, PF.KIND_PRE_ALARM):
            self.status.pre_alarm_blink_s = -1
        self.ports = P.build(hw, settings, profile, self.alternator, self.system)
        settings.refuse = self._refuse_setting
        self._obs = Observation()
        self._last_ms = None
        self._uptime_ms = 0
        self._all_off = False
        self._off_ms = 0
        self._version = -1
        self.restarts = 0        # control-loop restarts after a crash (main.run)
        self.radio = None        # ble.Radio (``attach_bluetooth``) when the board has Bluetooth
        self.ble_keys = None     # ble_keys.BleKeys, with it
        hw.all_safe()

    def _refuse_setting(self, name, value):
        # Why the ``settings`` store refuses this change, or None (settings.refuse).
        if name == "model":
            try:
                PF.check_board(PF.resolve(value, self.hw.board), self.hw.board)
            except ValueError as e:
                return str(e)
            return None
        return PF.setting_applies(self.profile, name)

    def attach_bluetooth(self, radio, keys):
        """Run ``radio`` (``ble.Radio``) in the tick; ``keys`` (``ble_keys.BleKeys``)
        take the PIN commands and the factory reset, and a corrupt store is E-B31."""
        self.radio = radio
        self.ble_keys = keys

    @property
    def ticks(self):
        return self.status.ticks

    def tick(self, now_ms):
        dt = 0 if self._last_ms is None else ticks_diff(now_ms, self._last_ms)
        if dt < 0:
            dt = 0
        self._last_ms = now_ms
        fresh = self.link.service(now_ms)
        self.inbox.drain(self._apply_cmd)
        s = self.settings
        if self._version != s.version:
            self._all_off = s.get("remote_function") == "all_off"
            self._use_pre_alarm = s.get("pre_alarm_usage") == "use"
            self._version = s.version
        lh = self.link_health
        lh.update(dt, self.link, fresh)
        bank = self.link.bank if lh.ever_read and self.link.bank.count else None
        hw = self.hw
        if self._has_remote:
            self.remote.update(dt, hw.remote_l_mv(), hw.remote_h_mv(), bank.bank_mv if bank is not None else 0)
        else:                       # a model without remote on/off: the terminal is always on
            self.remote.update(dt, 0, 0, 0)
        if self.remote.switched_on:
            # Remote or soft switch off and on again. A locked power port (A-A12)
            # needs it off for RELEASE_OFF_MS: a loose wire's bounce is no decision.
            self.diagnosis.user_action()
            if self._off_ms >= RELEASE_OFF_MS:
                self.power.user_action()
        self._off_ms = 0 if self.remote.on else (self._off_ms + dt if self._off_ms < (1 << 28) else self._off_ms)
        cur = self.current
        cur.update(hw.shunt_ma() if cur.has_shunt else 0, bank, lh.complete_age_ms, fresh and lh.complete)
        self._monitor(dt, bank, fresh and lh.complete, lh.stale)
        if self.persister is not None:
            self.persister.tick(dt)
        obs = self._obs
        obs.bank = bank
        obs.fresh = fresh
        obs.stale = lh.stale
        obs.complete = lh.complete
        obs.at_once = lh.at_once
        obs.at_once_new = lh.at_once_new
        obs.link_state = lh.state
        obs.no_battery = lh.no_battery() or (lh.empty_ring and self.diagnosis.active[C.A_B05] == 1)
        obs.soc_pct10 = self.monitor.soc_pct10
        obs.current_ma = cur.ma
        obs.current_known = cur.known
        obs.capacity_ah = self.monitor.capacity_mah // 1000
        obs.implausible = self.link.implausible
        self.stuck.update(dt, bank, fresh and lh.complete and not lh.stale)
        obs.stuck_cells = self.stuck.count
        obs.config_bad = (self.persister is not None and self.persister.settings_status != 0) or (
            self.alarm_state is not None and self.alarm_state.status == 2) or (   # store.CORRUPT
            self.ble_keys is not None and self.ble_keys.corrupt)
        pw = self.power
        pw.protect(dt)
        obs.bms_temp_dc = hw.bms_temp_dc if self._power_port else None   # A-B15 is the ports' MOSFETs
        obs.port_tripped = pw.alt_tripped or pw.sys_tripped
        self.diagnosis.update(dt, obs)
        st = self.status
        D.decide(st, self.diagnosis.active, not lh.ever_read, self.remote.on, self._all_off, pw.alt_tripped,
                 pw.sys_tripped, bank is None or bank.system_v == 12, self.updating)
        pw.update(dt, st, bank, lh.stale)
        self._fill_status(dt, bank, fresh)
        pw.fill(st)
        if self.radio is not None:
            self.radio.update(dt, st)
        self.indicators.update(st, dt, self.alternator, self.system, pw.bms_derating())
        for port in self.ports:
            port.apply(st, dt)
        if self.alarm_state is not None:
            self.alarm_state.tick(dt, self)
        if self.healthy_hook is not None and lh.ever_read and lh.complete and not lh.stale:
            hook, self.healthy_hook = self.healthy_hook, None     # the first healthy tick: docs/update.md
            hook()
        st.ticks += 1
        hw.feed()

    def _monitor(self, dt, bank, fresh_complete, stale):
        m = self.monitor
        if fresh_complete:          # a partial reading would understate the capacity
            m.set_capacity_ah(bank.capacity_total_ah())
        if self.current.known:
            syncs = m.synchronised
            m.update(dt, self.current.ma, bank.cell_avg_mv if bank is not None and not stale else 0)
            if m.synchronised != syncs:
                self._full_charge()
        h = self.history
        h.elapse(dt)
        if bank is not None and not stale:
            h.update(dt, bank, self.current.ma if self.current.known else 0, m)
        self.balancer.update(bank, m.soc_pct10 != UNKNOWN, h.since_full_s)

    def _fill_status(self, dt, bank, fresh):
        st = self.status
        lh = self.link_health
        link = self.link
        # Seconds, with the ms carried: a ms count would leave the small ints in 12 days.
        self._uptime_ms += dt
        if self._uptime_ms >= 1000:
            st.uptime_s += self._uptime_ms // 1000
            self._uptime_ms %= 1000
        st.startup = not lh.ever_read
        st.pre_alarm = self.diagnosis.pre_alarm and self._use_pre_alarm
        r = self.remote
        st.remote_on = r.on
        st.remote_terminal_on = r.terminal_on
        st.remote_state = r.state
        st.soft_on = r.soft_on
        st.bank = bank
        st.batteries = link.bank.count if link.has_reading else 0
        st.expected_batteries = lh.expected
        st.reading_age_ms = lh.age_ms
        st.complete = lh.complete
        if lh.at_once or lh.at_once_new:
            st.readings_at_once += 1
        c = self.current
        st.current_known = c.known
        st.current_source = c.source
        st.current_ma = c.ma if c.known else (bank.bank_current_ma if bank is not None else 0)
        m = self.monitor
        st.soc_pct10 = m.soc_pct10
        st.consumed_mah = m.consumed_mah
        st.ttg_min = m.ttg_min
        st.synchronisations = m.synchronised
        st.balancer = self.balancer.status
        st.link_frames_ok = link.frames_ok
        st.link_rejected = link.error_total()
        st.link_answered_pct = lh.answered_pct()
        st.link_seq = link.bank_seq
        st.stuck_cell = self.stuck.first

    def _user_action(self):
        # A deliberate user action: latched under-voltage withdrawals and port
        # trips (A-A12, locked or waiting) are released.
        self.diagnosis.user_action()
        self.power.user_action()

    def _apply(self, cmd):
        kind = cmd[0]
        if kind == SETTINGS:
            self.settings.update(cmd[1])
        elif kind == SOFT_SWITCH:
            self.remote.soft_on = bool(cmd[1])
        elif kind == SET_SOC:
            self.monitor.set_soc(cmd[1])
        elif kind == SYNCHRONISE:
            self.monitor.synchronise()
            self._full_charge()
        elif kind == FACTORY_RESET:
            self.settings.reset_defaults()
            if self.persister is not None:
                self.persister.save_settings_now()
            if self.ble_keys is not None:
                self.ble_keys.factory_reset()
        elif kind == ACCEPT_BANK:
            self.link_health.accept_bank()
        elif kind == RESET_ALARMS:
            self._user_action()
        elif kind == CLEAR_HISTORY:
            self.history.clear()
        elif kind == UPDATING:
            self.updating = bool(cmd[1])
        elif kind == SET_PIN:
            if self.ble_keys is None:
                raise ValueError("this board has no Bluetooth")
            self.ble_keys.set_pin(cmd[1])
        else:
            raise ValueError("unknown command %r" % (kind,))

    def _full_charge(self):
        if self.link.has_reading and self.link.bank.count:
            self.balancer.full_charge(self.link.bank)
        self.history.full_charge()
        if self.persister is not None:
            self.persister.full_charge()

    def safe(self):
        """Every output to its safe state (used when the loop stops or crashes)."""
        self.hw.all_safe()

