"""Settings schema and the validated settings store.

Every threshold, reset value and delay the firmware uses is a row of ``SCHEMA``:
``(name, unit, default, min, max, source)``. A setting with unit ``"choice"`` has a
tuple of labels in place of min and max and its value is one label. Logic never
holds a threshold as a literal: it reads this store (docs/settings.md, generated
from this table, lists them all).
"""

import models

CHOICE = "choice"

# name, unit, default, minimum (or choices), maximum, source
SCHEMA = (
    # The model (behaviour §12; docs/models.md): which product this board is. Takes effect at the next start.
    ("model", CHOICE, "board", ("board",) + models.NAMES, None,
     "behaviour §12: the product profile; 'board' = the board file's \"model\" (else smart_bms_12_200). After a reset"),
    # Cell under-voltage: ATD (behaviour §1; reset from the Lynx Smart BMS manual: all cells >= 3.2 V).
    ("cell_uv_trip_v", "V", 2.80, 2.60, 3.00, "behaviour §1: load disconnect at 2.8 V per cell, adjustable"),
    ("cell_uv_reset_v", "V", 3.20, 2.90, 3.40, "project: loads back on when every cell is >= 3.2 V (Lynx Smart BMS manual)"),
    ("cell_uv_delay_s", "s", 5, 0, 60, "project: filters load-step sags (docs/protection.md)"),
    ("cell_uv_hard_v", "V", 2.50, 2.00, 2.70, "project: hard limit: one reading below it raises the pre-alarm at once and withdraws ATD when the 30 s lead is over (docs/protection.md)"),
    ("recharge_pct", "%", 1.0, 0.1, 10.0, "project: net charge (of the bank's capacity, 0.1 Ah at least) that must flow in after an under-voltage withdrawal before the loads may return; a sensor offset cannot fake it quickly"),
    # Pre-alarm (behaviour §1).
    ("pre_alarm_trip_v", "V", 3.10, 2.80, 3.30, "behaviour §1: pre-alarm at 3.1 V per cell, adjustable"),
    ("pre_alarm_reset_v", "V", 3.20, 2.90, 3.40, "project: hysteresis up to the under-voltage reset"),
    ("pre_alarm_delay_s", "s", 1, 0, 30, "project: filters single-sample sags"),
    ("pre_alarm_lead_s", "s", 30, 30, 300, "behaviour §1: pre-alarm at least 30 s before ATD is withdrawn"),
    ("pre_alarm_hold_s", "s", 60, 1, 600, "project: W-B01 clears once every cell is at its reset this long: a load that sags the cells in bursts keeps one steady pre-alarm (and its lead)"),
    ("pre_alarm_usage", CHOICE, "use", ("use", "not_available"), None, "behaviour §9: battery pre-alarm usage"),
    ("pre_alarm_mode", CHOICE, "continuous", ("continuous", "intermittent"), None, "behaviour §1, §9"),
    ("pre_alarm_blink_s", "s", 1, 1, 5, "project: intermittent pre-alarm, on and off for this long each"),
    # Low bank voltage: ATD (behaviour §7, A-B08), as an average per cell.
    ("bank_uv_cell_v", "V", 2.75, 2.50, 3.00, "project: A-B08 below this average per cell (11.0 V on 12.8 V), a backstop under the 2.8 V cell rule"),
    ("bank_uv_reset_cell_v", "V", 3.20, 2.90, 3.40, "project: loads back on at 12.8 V on 12.8 V"),
    ("bank_uv_delay_s", "s", 10, 0, 60, "project"),
    # Cell over-voltage: ATC (behaviour §1 names the rule, not the number).
    ("cell_ov_trip_v", "V", 3.75, 3.50, 3.90, "project: LiFePO4 cell maximum (docs/protection.md)"),
    ("cell_ov_reset_v", "V", 3.55, 3.35, 3.70, "project: charging resumes once the cell has settled"),
    ("cell_ov_delay_s", "s", 1, 0, 10, "project: short, over-voltage damages cells fast"),
    ("cell_ov_hard_v", "V", 3.90, 3.60, 4.20, "project: hard limit, ATC withdrawn on one reading above it (docs/protection.md)"),
    # Temperatures for charging: ATC (behaviour §1).
    ("charge_ot_trip_c", "degC", 50.0, 40, 60, "project: LiFePO4 charge range 5..50 degC"),
    ("charge_ot_reset_c", "degC", 45.0, 30, 58, "project: 5 degC hysteresis"),
    ("charge_ot_delay_s", "s", 5, 0, 60, "project"),
    ("charge_ot_hard_c", "degC", 55.0, 45, 70, "project: hard limit, no charging after one reading above it"),
    ("charge_ut_trip_c", "degC", 5.0, 0, 10, "behaviour §1 (smallBMS NG): no charging below 5 degC"),
    ("charge_ut_reset_c", "degC", 6.0, 1, 15, "project: 1 degC hysteresis"),
    ("charge_ut_delay_s", "s", 5, 0, 60, "project"),
    ("charge_ut_hard_c", "degC", 0.0, -20, 5, "project: hard limit, no charging after one reading below it (lithium plating below 0 degC)"),
    # Bank checks and battery flags (behaviour §7).
    ("bank_check_s", "s", 2, 0, 10, "project: E-B01, E-B05, E-B09 must hold this long on complete readings"),
    ("battery_fault_clear_s", "s", 5, 0, 60, "project: E-B11 clears once no battery has flagged a fault for this long"),
    ("stuck_cell_s", "s", 600, 120, 3600, "project: a cell reading frozen this long while the other cells of its battery moved is a failed sensor: E-B11 (docs/reliability.md)"),
    ("stuck_cell_move_mv", "mV", 20, 5, 200, "project: how far each other cell must move (their sum over the window, per cell) for the one that did not to count as frozen"),
    # Link supervision (behaviour §1 leaves the delays to the project).
    ("link_lost_warn_s", "s", 3, 2, 30, "project: W-B05 after this long without a valid reading"),
    ("link_lost_alarm_s", "s", 30, 30, 300, "project: A-B05 this long after W-B05 (>= the 30 s pre-alarm lead)"),
    ("link_warn_hold_s", "s", 30, 0, 300, "project: W-B05 clears only once the link has been healthy this long: a degraded link keeps one steady warning"),
    ("link_warn_answered_pct", "%", 40, 10, 90, "project: W-B05 when fewer of the last 20 seconds of polls got a complete answer"),
    ("link_clear_answered_pct", "%", 90, 20, 100, "project: W-B05 clears once at least this share of the last 20 seconds of polls was answered (a degraded link keeps a steady warning)"),
    ("current_hold_s", "s", 10, 1, 60, "project: without a shunt, the last reported current is counted across link gaps this long"),
    # Battery monitor (behaviour §5, smallBMS NG).
    ("charged_cell_v", "V", 3.50, 3.35, 3.65, "project: 14.0 V on a 12.8 V battery, the usual LiFePO4 'charged voltage'"),
    ("tail_current_pct", "%", 4.0, 0.5, 10.0, "behaviour §5: tail current, default 4 % of capacity"),
    ("charged_detection_s", "s", 180, 10, 3600, "behaviour §5: charged detection time, default 3 minutes"),
    ("low_soc_warning_pct", "%", 20.0, 0.0, 99.0, "project: smallBMS NG warns before the discharge limit; 0 disables"),
    ("discharge_limit_pct", "%", 10.0, 0.0, 99.0, "behaviour §5: discharge limit; 0 disables it"),
    ("soc_reset_margin_pct", "%", 5.0, 1.0, 20.0, "project: low-SoC warning and alarm clear this far above their level"),
    ("ttg_filter_s", "s", 60, 5, 600, "project: time-to-go uses the current averaged over about this long"),
    # Shunt current sensor (boards whose file names one): offset calibration.
    ("current_zero_offset_a", "A", 0.0, -10.0, 10.0, "project: measured by diag.calibrate_current_zero(), subtracted from the shunt reading"),
    # Balancer status (behaviour §6).
    ("imbalance_mv", "mV", 80, 20, 300, "project: cell spread at the last full charge above this = imbalanced"),
    ("balancer_stale_days", "d", 30, 1, 365, "behaviour §6: unknown when not fully charged for 30 days"),
    # Remote on/off (behaviour §2).
    ("remote_function", CHOICE, "ports_only", ("ports_only", "all_off"), None, "behaviour §2: remote on/off function"),
    ("remote_l_on_below_v", "V", 5.0, 1.0, 8.0, "behaviour §2: ON when L < 5 V (smallBMS NG: 3.5 V)"),
    ("remote_h_on_above_v", "V", 3.0, 1.0, 8.0, "behaviour §2: ON when H > 3 V (smallBMS NG: 2.9 V)"),
    # Alternator port (behaviour §3, §9; Smart BMS 12/200). docs/alternator.md.
    ("fuse_type", CHOICE, "125A", ("125A", "100A", "80A", "60A", "2x30A", "2x20A", "2x15A", "2x10A", "2x7.5A"), None,
     "behaviour §3, §9: the installed fuse (it is the current shunt); the default errs safe if it does not match"),
    ("fuse_cal_pct", "%", 100, 70, 130, "project: the installed fuse's resistance as % of the table's typical value"),
    ("belt_limit_pct", "%", 100, 10, 100, "project: belt / small alternator: caps the fuse row's limit at this share"),
    ("alternator_min_input_v", "V", 13.0, 13.0, 13.5, "behaviour §3: current flows only when the input exceeds 13 V"),
    ("charge_limit_v", "V", 14.2, 13.0, 15.3, "behaviour §3, §9: battery charge limit, port off when the lithium voltage reaches it"),
    ("charge_resume_margin_v", "V", 0.5, 0.2, 1.0, "behaviour §3: on again once 0.5 V below the limit ..."),
    ("charge_resume_s", "s", 10, 5, 60, "behaviour §3: ... for 10 consecutive seconds"),
    ("alternator_temp_derate_c", "degC", 90.0, 60, 120, "project (issue 8): alternator NTC: the limit falls linearly above this"),
    ("alternator_temp_max_c", "degC", 110.0, 70, 140, "project: alternator NTC: port open above this, back below the derate point"),
    ("bms_temp_derate_c", "degC", 75.0, 50, 95, "project: BMS MOSFET NTC: the alternator limit falls linearly above this"),
    ("bms_temp_max_c", "degC", 90.0, 60, 110, "project: A-B15 (behaviour §3) above this for bms_temp_delay_s"),
    ("bms_temp_reset_c", "degC", 70.0, 40, 100, "project: A-B15 clears below this"),
    ("bms_temp_delay_s", "s", 2, 0, 30, "project: filters a sensor glitch"),
    ("bms_temp_hard_c", "degC", 100.0, 70, 125, "project: A-B15 on one reading above this"),
    # System+ port (behaviour §4). docs/alternator.md, A-A12.
    ("system_retries", "n", 3, 0, 10, "project: A-A12 retries before the port stays open until a user action"),
    ("system_retry_s", "s", 5, 1, 60, "project: pause before the first retry; each further pause is 4x the one before"),
    ("system_stable_s", "s", 60, 10, 600, "project: a retry that holds this long resets the retry count"),
    ("precharge_timeout_s", "s", 3.0, 0.5, 10.0, "project: pre-charge must bring System+ near the bank within this, else A-A12"),
    ("precharge_margin_v", "V", 0.5, 0.1, 2.0, "project: pre-charge done when System+ is within this of the lithium voltage"),
    # Bluetooth (behaviour §10; instant-readout.md). docs/ble.md.
    ("bluetooth", CHOICE, "on", ("on", "off"), None, "behaviour §10: monitoring, control and configuration over Bluetooth"),
    ("instant_readout", CHOICE, "on", ("on", "off"), None, "behaviour §10: key data broadcast in the advertisement"),
    ("readout_cells", CHOICE, "on", ("on", "off"), None, "project: record 0x05 (each battery's cells) takes every other advertisement slot"),
    ("ble_model_id", "id", 0, 0, 65535, "instant-readout.md: decoders only name the device from it; 0 claims no vendor's id (0xA3E8 = Smart BMS 12-200)"),
)

_INDEX = {}
for _i in range(len(SCHEMA)):
    _INDEX[SCHEMA[_i][0]] = _i

# Cross-field rules: (low, high, why); each must hold as low < high.
_ORDER = (
    ("cell_uv_trip_v", "cell_uv_reset_v", "the under-voltage reset must be above its trip"),
    ("pre_alarm_trip_v", "pre_alarm_reset_v", "the pre-alarm reset must be above its trip"),
    ("cell_uv_trip_v", "pre_alarm_trip_v", "the pre-alarm must trip above the under-voltage trip"),
    ("cell_uv_hard_v", "cell_uv_trip_v", "the hard under-voltage limit must be below the trip"),
    ("bank_uv_cell_v", "pre_alarm_trip_v", "the pre-alarm must trip above the low-bank-voltage trip (A-B08 waits for its lead)"),
    ("cell_ov_trip_v", "cell_ov_hard_v", "the hard over-voltage limit must be above the trip"),
    ("charge_ot_trip_c", "charge_ot_hard_c", "the hard over-temperature limit must be above the trip"),
    ("charge_ut_hard_c", "charge_ut_trip_c", "the hard low-temperature limit must be below the trip"),
    ("link_warn_answered_pct", "link_clear_answered_pct", "W-B05 must clear above the share it trips at"),
    ("bank_uv_cell_v", "bank_uv_reset_cell_v", "the low-bank-voltage reset must be above its trip"),
    ("cell_ov_reset_v", "cell_ov_trip_v", "the over-voltage reset must be below its trip"),
    ("charge_ot_reset_c", "charge_ot_trip_c", "the over-temperature reset must be below its trip"),
    ("charge_ut_trip_c", "charge_ut_reset_c", "the low-temperature reset must be above its trip"),
    ("alternator_temp_derate_c", "alternator_temp_max_c", "the alternator's maximum must be above its derate point"),
    ("bms_temp_derate_c", "bms_temp_max_c", "A-B15 must trip above the BMS derate point"),
    ("bms_temp_reset_c", "bms_temp_max_c", "A-B15 must reset below its trip"),
    ("bms_temp_max_c", "bms_temp_hard_c", "the hard BMS temperature limit must be above the A-B15 trip"),
)


def defaults():
    """Every setting's default, a dict name -> value (a factory reset's result)."""
    out = {}
    for row in SCHEMA:
        out[row[0]] = row[2]
    return out


class SettingsError(ValueError):
    """A rejected ``set``: the message says which rule; nothing was changed."""


def schema_row(name):
    """Return the schema row of ``name``; raise ``SettingsError`` if there is none."""
    i = _INDEX.get(name) if isinstance(name, str) else None
    if i is None:
        raise SettingsError("unknown setting %r" % (name,))
    return SCHEMA[i]


class Settings:
    """The current settings: a value per schema row, always valid as a whole.

    ``get(name)`` returns the value in the schema's unit; ``set(name, value)``
    validates type, range and the cross-field order rules, then stores it, or
    raises ``SettingsError`` and keeps the old value. ``version`` counts changes so
    consumers can recompute derived integers only when something changed.
    """

    def __init__(self):
        self._values = {}
        self.version = 0
        # ``refuse(name, value)`` -> the reason a change is refused, or None: set
        # by ``bms`` (a setting the model does not have, a model the board cannot be).
        self.refuse = None
        self.reset_defaults()

    def reset_defaults(self):
        for row in SCHEMA:
            self._values[row[0]] = row[2]
        self.version += 1

    def get(self, name):
        if name not in self._values:
            raise SettingsError("unknown setting '%s'" % name)
        return self._values[name]

    def names(self):
        """Setting names in schema order (a list of str)."""
        return [row[0] for row in SCHEMA]

    def _convert(self, name, value):
        # Type and range of one value, then the model's refusal; not the cross-field rules.
        value = self._typed(name, value)
        r = self.refuse
        if r is not None and value != self._values.get(name):
            why = r(name, value)
            if why:
                raise SettingsError(why)
        return value

    def _typed(self, name, value):
        row = schema_row(name)
        unit = row[1]
        if unit == CHOICE:
            if value not in row[3]:
                raise SettingsError("%s must be one of %s, not %r" % (name, ", ".join(row[3]), value))
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError("%s takes a number in %s, not %r" % (name, unit, value))
        if value != value or value < row[3] or value > row[4]:
            raise SettingsError("%s must be within %s..%s %s, not %r" % (name, row[3], row[4], unit, value))
        if isinstance(row[2], int):
            if int(value) != value:
                raise SettingsError("%s takes a whole number of %s, not %r" % (name, unit, value))
            value = int(value)
        return value

    def _check_order(self, values, changed):
        for low, high, why in _ORDER:
            if (low in changed or high in changed) and not values[low] < values[high]:
                raise SettingsError("%s=%r and %s=%r rejected: %s" % (low, values[low], high, values[high], why))

    def check(self, name, value):
        """Return ``value`` converted to the setting's type, or raise ``SettingsError``."""
        value = self._convert(name, value)
        trial = dict(self._values)
        trial[name] = value
        self._check_order(trial, (name,))
        return value

    def set(self, name, value):
        """Validate and store one setting; raise ``SettingsError`` and keep the old value on bad input."""
        value = self.check(name, value)
        self._values[name] = value
        self.version += 1
        return value

    def update(self, values):
        """Set several settings at once, all or nothing.

        ``values`` is a dict name -> value. The order rules are checked on the final
        combination, so a trip and its reset can move together.
        Raises ``SettingsError`` (nothing changed) on the first bad value.
        """
        self._values = self.check_update(values)
        self.version += 1

    def check_update(self, values, base=None):
        """The settings ``update(values)`` would leave (a new dict), or raise
        ``SettingsError``; nothing is stored. ``base``: pending changes (a dict)
        to apply first, as if already made."""
        trial = dict(self._values)
        if base:
            for name in base:
                trial[name] = self._convert(name, base[name])
        for name in values:
            trial[name] = self._convert(name, values[name])
        self._check_order(trial, values)
        return trial

    def mv(self, name):
        """A setting in volts as integer millivolts (rounded)."""
        return int(self._values[name] * 1000 + 0.5)

    def ms(self, name):
        """A setting in seconds as integer milliseconds."""
        return int(self._values[name] * 1000 + 0.5)

    def milli(self, name):
        """A setting times 1000 as an integer, rounded to nearest for either sign
        (A -> mA for the current offset)."""
        v = self._values[name] * 1000
        return int(v + 0.5) if v >= 0 else -int(-v + 0.5)

    def deci_c(self, name):
        """A setting in degC as integer tenths of a degree (rounded toward nearest)."""
        v = self._values[name] * 10
        return int(v + 0.5) if v >= 0 else -int(-v + 0.5)
