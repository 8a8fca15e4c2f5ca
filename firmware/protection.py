"""Protection: decides ATC, ATD and the pre-alarm from the bank, the link and remote.

Pure logic: no ``machine``, no clock. ``update(now_ms, ...)`` is called once per
control tick with the tick time (``time.ticks_ms()`` on the board, a virtual clock
in the simulator); every delay is measured by summing wrap-safe tick differences,
so a test can step to the exact millisecond a rule trips.

Thresholds, resets and delays come from ``settings.Settings`` (behaviour.md §1,
§2, §7, §9 and docs/protection.md for the project's own choices). What a code
withdraws comes from the one table in ``codes``.
"""
from array import array
from micropython import const

import bank as B
import codes as C
from ticks import ticks_diff

# Metrics a cell/temperature rule watches.
M_CELL_MIN = const(0)
M_CELL_MAX = const(1)
M_TEMP_MIN = const(2)
M_TEMP_MAX = const(3)
M_CELL_AVG = const(4)

# (code id, metric, trips when above (True) or below (False), trip, reset, delay setting)
RULES = (
    (C.W_B01, M_CELL_MIN, False, "pre_alarm_trip_v", "pre_alarm_reset_v", "pre_alarm_delay_s"),
    (C.A_B01, M_CELL_MIN, False, "cell_uv_trip_v", "cell_uv_reset_v", "cell_uv_delay_s"),
    (C.A_B02, M_CELL_MAX, True, "cell_ov_trip_v", "cell_ov_reset_v", "cell_ov_delay_s"),
    (C.A_B09, M_TEMP_MAX, True, "charge_ot_trip_c", "charge_ot_reset_c", "charge_ot_delay_s"),
    (C.A_B10, M_TEMP_MIN, False, "charge_ut_trip_c", "charge_ut_reset_c", "charge_ut_delay_s"),
    (C.A_B08, M_CELL_AVG, False, "bank_uv_cell_v", "bank_uv_reset_cell_v", "bank_uv_delay_s"),
)
N_RULES = const(6)
_RULE_BANK_UV = const(5)
# E-B09 (behaviour §7): the bank voltage fits no system voltage, fixed limits.
BANK_MIN_MV = const(9000)
BANK_MAX_MV = const(60000)
CHECK_CONFIRM_MS = const(2000)     # E-B09, E-B01, E-B05 must hold this long
_RULE_PRE_ALARM = const(0)
_RULE_UV = const(1)

_SATURATE_MS = const(1 << 28)   # timers stop counting here (about 3 days)
REMOTE_DEBOUNCE_MS = const(200)

# Remote terminal states, for display (behaviour §2).
REMOTE_OFF = const(0)
REMOTE_LOOP = const(1)     # L and H interconnected
REMOTE_L_LOW = const(2)    # L pulled to battery minus
REMOTE_H_HIGH = const(3)   # H pulled high
REMOTE_NAMES = ("off", "L-H loop", "L low", "H high")


class Protection:
    """ATC / ATD / pre-alarm state machine.

    Public state after each ``update``: ``atc``, ``atd`` (bool, logical: True =
    allowed), ``pre_alarm`` (bool, logical, before continuous/intermittent shaping),
    ``active`` (bytearray, 1 per active code id), ``remote_on`` (bool, terminal AND
    soft switch), ``remote_state`` (``REMOTE_*``), ``startup`` (True until the first
    reading), ``alternator_port``, ``system_charge``, ``system_discharge`` (bool:
    what the ports may do; behaviour §2–§4).
    """

    def __init__(self, settings):
        self.settings = settings
        self._settings_version = -1
        self.active = bytearray(C.N_CODES)
        # ms the trip condition has held; -1 when it did not hold at the last tick
        self._timer = array("i", [-1] * N_RULES)
        self._lead_ms = 0            # ms W-B01 has been active
        self._check_ms = array("i", [-1, -1, -1])   # confirm timers of E-B09, E-B01, E-B05
        self._since_reading_ms = 0   # ms since a reading with at least one battery
        self._since_complete_ms = 0  # ms since a reading with every expected battery
        self._warn_ms = 0            # ms W-B05 has been active
        self._boot_ms = 0
        self._last_ms = None
        self._evaluate_at_once = True
        self.expected_batteries = 0
        self.ever_read = False
        self.empty_ring = False
        self.startup = True
        self.soft_on = True
        self.remote_terminal_on = True
        self._remote_raw = True
        self._remote_first = True
        self._remote_raw_ms = 0
        self.remote_state = REMOTE_OFF
        self.remote_on = True
        self.atc = False
        self.atd = False
        self.pre_alarm = False
        self.alternator_port = False
        self.system_charge = False
        self.system_discharge = False
        self._load_settings()

    def _load_settings(self):
        s = self.settings
        self._trip = array("i", bytes(4 * N_RULES))
        self._reset = array("i", bytes(4 * N_RULES))
        self._delay = array("i", bytes(4 * N_RULES))
        for r in range(N_RULES):
            rule = RULES[r]
            scale = s.deci_c if rule[1] in (M_TEMP_MIN, M_TEMP_MAX) else s.mv
            self._trip[r] = scale(rule[3])
            self._reset[r] = scale(rule[4])
            self._delay[r] = s.ms(rule[5])
        self._lead_need_ms = s.ms("pre_alarm_lead_s")
        self._warn_need_ms = s.ms("link_lost_warn_s")
        self._alarm_need_ms = s.ms("link_lost_alarm_s")
        self._remote_l_mv = s.mv("remote_l_on_below_v")
        self._remote_h_mv = s.mv("remote_h_on_above_v")
        self._all_off = s.get("remote_function") == "all_off"
        self._use_pre_alarm = s.get("pre_alarm_usage") == "use"
        self._low_soc = int(s.get("low_soc_warning_pct") * 10 + 0.5)
        self._soc_limit = int(s.get("discharge_limit_pct") * 10 + 0.5)
        self._soc_margin = int(s.get("soc_reset_margin_pct") * 10 + 0.5)
        self._settings_version = s.version

    def accept_bank(self):
        """Forget the learned battery count (after a battery was removed on purpose)."""
        self.expected_batteries = 0

    def set_soft_switch(self, on):
        """The Bluetooth / REPL soft switch; OFF acts like the remote terminal OFF."""
        self.soft_on = bool(on)

    def update(self, now_ms, bank, fresh, remote_l_mv, remote_h_mv, soc_pct10=-1):
        """Advance one control tick.

        ``now_ms``: tick time in ms (wrap-safe ticks). ``bank``: the latest accepted
        ``bank.Bank`` or None. ``fresh``: True if ``bank`` was received this tick.
        ``remote_l_mv`` / ``remote_h_mv``: remote terminal voltages in mV.
        ``soc_pct10``: the battery monitor's SoC in 0.1 %, or -1 while unknown.
        """
        if self._settings_version != self.settings.version:
            self._load_settings()
        if self._last_ms is None:
            dt = 0
        else:
            dt = ticks_diff(now_ms, self._last_ms)
            if dt < 0:
                dt = 0
        self._last_ms = now_ms
        self._boot_ms = _sat(self._boot_ms + dt)
        self._update_link(dt, bank, fresh)
        # Rules and checks judge only a reading with batteries in it, while fresh;
        # otherwise they hold (an empty ring's zeros are not a bank at 0 V).
        if bank is not None and bank.count and self._since_reading_ms < self._warn_need_ms:
            at_once = self._evaluate_at_once
            self._update_rules(dt, bank)
            self._update_checks(dt, bank, at_once)
        self._update_soc(soc_pct10)
        self._update_remote(dt, remote_l_mv, remote_h_mv, bank.bank_mv if bank is not None else 0)
        self._decide()

    def _update_link(self, dt, bank, fresh):
        a = self.active
        self._since_reading_ms = _sat(self._since_reading_ms + dt)
        self._since_complete_ms = _sat(self._since_complete_ms + dt)
        if fresh and bank is not None:
            self.empty_ring = bank.count == 0
            if bank.count > 0:
                if not self.ever_read:
                    self._evaluate_at_once = True
                self.ever_read = True
                self._since_reading_ms = 0
                if bank.count >= self.expected_batteries:
                    self.expected_batteries = bank.count
                    self._since_complete_ms = 0
        lost = self.ever_read and self._since_complete_ms >= self._warn_need_ms
        if lost:
            if not a[C.W_B05]:
                self._warn_ms = 0
            else:
                self._warn_ms = _sat(self._warn_ms + dt)
            a[C.W_B05] = 1
            if self._warn_ms >= self._alarm_need_ms:
                if not a[C.A_B05]:
                    # Once ATD is gone for lack of data, the next reading decides at once.
                    self._evaluate_at_once = True
                a[C.A_B05] = 1
        else:
            a[C.W_B05] = 0
            a[C.A_B05] = 0
            self._warn_ms = 0
        # E-B32: since boot nothing answered, or the ring answers with no battery;
        # after the first reading the ring is judged by W-B05/A-B05 and E-B32
        # names the cause once A-B05 has withdrawn ATC and ATD (docs/protection.md).
        if not self.ever_read:
            a[C.E_B32] = 1 if self._boot_ms >= self._warn_need_ms else 0
        else:
            a[C.E_B32] = 1 if (self.empty_ring and a[C.A_B05]) else 0
        self.startup = not self.ever_read

    def _metric(self, bank, m):
        if m == M_CELL_MIN:
            return bank.cell_min_mv
        if m == M_CELL_MAX:
            return bank.cell_max_mv
        if m == M_TEMP_MIN:
            return bank.temp_min_dc
        if m == M_CELL_AVG:
            cells = bank.series * bank.n_cells[0]
            return bank.bank_mv // cells if cells else 0
        return bank.temp_max_dc

    def _update_rules(self, dt, bank):
        a = self.active
        # Lead = how long W-B01 has been active, counted from the tick it tripped.
        if a[C.W_B01]:
            self._lead_ms = _sat(self._lead_ms + dt)
        else:
            self._lead_ms = 0
        at_once = self._evaluate_at_once
        self._evaluate_at_once = False
        for r in range(N_RULES):
            rule = RULES[r]
            cid = rule[0]
            v = self._metric(bank, rule[1])
            high = rule[2]
            if a[cid]:
                cleared = v <= self._reset[r] if high else v >= self._reset[r]
                if cleared:
                    a[cid] = 0
                    self._timer[r] = -1
                continue
            tripped = v > self._trip[r] if high else v < self._trip[r]
            if not tripped:
                self._timer[r] = -1
                continue
            # Timer is -1 when the condition was not seen last tick: start at 0 now.
            t = self._timer[r]
            t = 0 if t < 0 else _sat(t + dt)
            self._timer[r] = t
            if at_once or t >= self._delay[r]:
                if (r == _RULE_UV or r == _RULE_BANK_UV) and not at_once and self._lead_ms < self._lead_need_ms:
                    continue    # a voltage load disconnect waits for the pre-alarm lead
                a[cid] = 1

    def _update_checks(self, dt, bank, at_once):
        """E-B09 outside 9..60 V; E-B01 series strings of unequal length (batteries
        disagree on their series positions); E-B05 mixed cell counts. Each must
        hold for CHECK_CONFIRM_MS and clears at once when it no longer does."""
        mv = bank.bank_mv
        self._confirm(C.E_B09, 0, mv < BANK_MIN_MV or mv > BANK_MAX_MV, dt, at_once)
        self._confirm(C.E_B01, 1, bank.topology == B.TOPOLOGY_UNEVEN_STRINGS, dt, at_once)
        self._confirm(C.E_B05, 2, bank.topology == B.TOPOLOGY_MIXED_CELLS, dt, at_once)

    def _confirm(self, cid, slot, bad, dt, at_once):
        t = self._check_ms
        if not bad:
            t[slot] = -1
            self.active[cid] = 0
            return
        # Counted from the tick the condition is first seen, like the rules' delays.
        t[slot] = 0 if t[slot] < 0 else (t[slot] + dt if t[slot] < CHECK_CONFIRM_MS else t[slot])
        if t[slot] >= CHECK_CONFIRM_MS or at_once:
            self.active[cid] = 1

    def _update_soc(self, soc):
        """W-B07 at the low-SoC warning level, A-B07 (ATD at once) at the discharge
        limit (behaviour §5); each clears ``soc_reset_margin_pct`` above its level.
        A level of 0 disables its rule; an unknown SoC raises neither."""
        self._soc_rule(C.W_B07, self._low_soc, soc)
        self._soc_rule(C.A_B07, self._soc_limit, soc)

    def _soc_rule(self, cid, level, soc):
        a = self.active
        if level <= 0 or soc < 0:
            a[cid] = 0
        elif a[cid]:
            if soc >= level + self._soc_margin:
                a[cid] = 0
        elif soc <= level:
            a[cid] = 1

    def _update_remote(self, dt, l_mv, h_mv, bank_mv):
        if h_mv > self._remote_h_mv:
            # L is pulled up to the bank and H down: joined, they meet near half the
            # bank voltage; H wired to plus sits at the bank voltage. Display only.
            joined = l_mv - h_mv < 300 and h_mv - l_mv < 300 and h_mv < bank_mv * 3 // 4
            state = REMOTE_LOOP if joined else REMOTE_H_HIGH
        elif l_mv < self._remote_l_mv:
            state = REMOTE_L_LOW
        else:
            state = REMOTE_OFF
        raw = state != REMOTE_OFF
        if self._remote_first:
            # The first reading is taken as it is: there is no earlier state to hold.
            self._remote_first = False
            self._remote_raw = raw
            self._remote_raw_ms = REMOTE_DEBOUNCE_MS
        elif raw != self._remote_raw:
            self._remote_raw = raw
            self._remote_raw_ms = 0
        else:
            self._remote_raw_ms = _sat(self._remote_raw_ms + dt)
        if self._remote_raw_ms >= REMOTE_DEBOUNCE_MS:
            self.remote_terminal_on = raw
            self.remote_state = state
        self.remote_on = self.remote_terminal_on and self.soft_on

    def _decide(self):
        mask = 0
        pre = False
        a = self.active
        for cid in range(C.N_CODES):
            if a[cid]:
                mask |= C.withdraws(cid)
                if C.drives_pre_alarm(cid):
                    pre = True
        self.atc = not (mask & C.WITHDRAW_ATC) and not self.startup
        self.atd = not (mask & C.WITHDRAW_ATD) and not self.startup
        if self._all_off and not self.remote_on:
            self.atc = False
            self.atd = False
        self.pre_alarm = pre and self._use_pre_alarm
        self.alternator_port = self.atc and self.remote_on
        self.system_charge = self.atc and self.remote_on
        self.system_discharge = self.atd and self.remote_on

    def reasons(self, which):
        """Why ATC (``which == C.WITHDRAW_ATC``) or ATD is withdrawn: a list of str.

        Code texts such as ``"A-B01"`` plus ``codes.REASON_STARTUP`` and
        ``codes.REASON_REMOTE_OFF``; empty when allowed. Allocates: not for the hot path.
        """
        out = []
        if self.startup:
            out.append(C.REASON_STARTUP)
        for cid in range(C.N_CODES):
            if self.active[cid] and C.withdraws(cid) & which:
                out.append(C.text(cid))
        if self._all_off and not self.remote_on:
            out.append(C.REASON_REMOTE_OFF)
        return out

    def active_codes(self):
        """Active code texts, a list of str in table order. Allocates."""
        return [C.text(cid) for cid in range(C.N_CODES) if self.active[cid]]


def _sat(ms):
    return ms if ms < _SATURATE_MS else _SATURATE_MS
