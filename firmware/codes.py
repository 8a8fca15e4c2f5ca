"""The diagnosis table: one row per warning, alarm and error code.

A row says everything about a code (the foxBMS idea): its text and severity, what
it withdraws on each of the five ports, whether it drives the pre-alarm output,
the detector that watches for it, the settings of its qualifier (trip, reset,
delay, hard limit) and whether it waits for the pre-alarm lead or stays latched
until the bank is recharged. Diagnosis, the decide stage, the LEDs, the REPL, the
trace and the docs all read this table; nothing else decides what a code does.
Source: behaviour.md §1, §5, §7; rows marked "project" are this project's own
choices (docs/protection.md gives the reasons).
"""
from micropython import const

# The ports a code can withdraw, as bits (behaviour §1, §3, §4).
PORT_ATC = const(0)          # charge disconnect output
PORT_ATD = const(1)          # load disconnect output
PORT_ALT = const(2)          # alternator port
PORT_SYS_CHG = const(3)      # System+ port, charge direction
PORT_SYS_DIS = const(4)      # System+ port, discharge direction
N_PORTS = const(5)
PORT_NAMES = ("ATC", "ATD", "alternator", "System+ charge", "System+ discharge")
ATC = const(1)
ATD = const(2)
ALT = const(4)
SYS_CHG = const(8)
SYS_DIS = const(16)
CHARGE = const(1 | 4 | 8)      # every way into the bank
DISCHARGE = const(2 | 16)      # every way out of it
POWER = const(4 | 8 | 16)      # the power ports (alternator, System+ both ways)
ALL = const(31)

SEVERITY_WARNING = const(1)
SEVERITY_ALARM = const(2)
SEVERITY_ERROR = const(3)
SEVERITY_NAMES = {1: "warning", 2: "alarm", 3: "error"}

# Code ids: small integers, so per-code state is a flat bytearray and a set of
# codes is one small-int bit mask (N_CODES + 2 reason bits stay under 30 bits).
W_B01 = const(0)
W_B05 = const(1)
W_B07 = const(2)
W_B12 = const(3)
A_B01 = const(4)
A_B02 = const(5)
A_B05 = const(6)
A_B07 = const(7)
A_B08 = const(8)
A_B09 = const(9)
A_B10 = const(10)
A_B11 = const(11)
A_B15 = const(12)
A_A12 = const(13)
E_B01 = const(14)
E_B05 = const(15)
E_B09 = const(16)
E_B11 = const(17)
E_B30 = const(18)
E_B31 = const(19)
E_B32 = const(20)
E_B33 = const(21)
N_CODES = const(22)

# Withdrawals that are not faults: reasons named like codes, kept as the bits
# above the code bits in a port's reason mask.
REASON_STARTUP = "startup"        # no valid bank reading since boot yet
REASON_REMOTE_OFF = "remote-off"  # remote terminal or soft switch OFF
REASON_NOT_12V = "not-12V"        # the power ports are for a 12 V bank (behaviour §12: 12/200 is 12 V)
BIT_STARTUP = const(1 << 22)
BIT_REMOTE_OFF = const(1 << 23)
BIT_NOT_12V = const(1 << 24)
REASON_UPDATING = "firmware-update"  # behaviour §11: no charging while an update is staged
BIT_UPDATING = const(1 << 25)

# Detectors: what a row watches (firmware/detect.py evaluates them).
D_NONE = const(0)          # not detected by this build (reserved code)
D_CELL_LOW = const(1)      # lowest cell below the trip
D_CELL_HIGH = const(2)     # highest cell above the trip
D_TEMP_HIGH = const(3)     # hottest sensor above the trip
D_TEMP_LOW = const(4)      # coldest sensor below the trip
D_BANK_LOW = const(5)      # mean cell voltage of the batteries that answered
D_SOC_LOW = const(6)       # battery monitor SoC at or below the level
D_LINK = const(7)          # link health: failing, degraded (held) or healthy (link_health.py)
D_BANK_RANGE = const(8)    # the bank's nominal voltage outside 9..60 V
D_UNEVEN = const(9)        # series strings of unequal length
D_MIXED = const(10)        # batteries with different cell counts
D_BATTERY_FAULT = const(11)  # a battery's record flags an internal fault or sent an impossible value
D_CONFIG = const(12)       # stored settings corrupt or missing
D_NO_BATTERY = const(13)   # nothing answers since boot, or an empty ring
D_BMS_TEMP = const(14)     # the BMS's own MOSFET temperature (NTC), or that sensor shorted
D_PORT_TRIP = const(15)    # a power port tripped on short circuit, overload or inrush (trip.py)

# Row flags.
F_PRE_ALARM = const(1)     # drives the pre-alarm output while active
F_LEAD = const(2)          # waits until the pre-alarm has been on for pre_alarm_lead_s
F_RECHARGE = const(4)      # once active, clears only after a recharge or a user action
F_PER_PORT = const(8)      # withdraws the port that tripped, not a fixed set (decide.py)

# Instant Readout alarm reasons (instant-readout.md: the values of the decoders'
# AlarmReason enum, a single bit each). A row's ``readout`` column names the one it
# is broadcast as; 0 = none (the code is not broadcast as an alarm: errors go in
# the record's error byte as their number, E-B11 -> 11).
R_LOW_VOLTAGE = const(1)
R_HIGH_VOLTAGE = const(2)
R_LOW_SOC = const(4)
R_LOW_TEMPERATURE = const(32)
R_HIGH_TEMPERATURE = const(64)
R_SHORT_CIRCUIT = const(4096)
R_BMS_LOCKOUT = const(8192)
READOUT_REASONS = (0, R_LOW_VOLTAGE, R_HIGH_VOLTAGE, R_LOW_SOC, R_LOW_TEMPERATURE, R_HIGH_TEMPERATURE,
                   R_SHORT_CIRCUIT, R_BMS_LOCKOUT)

# (text, severity, withdraws, flags, detector, trip, reset, delay, hard, clear, meaning, source, readout)
# trip / reset / delay / hard / clear: setting names (None = not used). ``clear``
# is how long the reset condition must hold: a setting, "delay" (the row's own
# delay) or None (at once: the detector has its own hysteresis).
TABLE = (
    ("W-B01", SEVERITY_WARNING, 0, F_PRE_ALARM, D_CELL_LOW, "pre_alarm_trip_v", "pre_alarm_reset_v",
     "pre_alarm_delay_s", "cell_uv_hard_v", "pre_alarm_hold_s", "low cell voltage (pre-alarm)", "behaviour §1, §7", R_LOW_VOLTAGE),
    ("W-B05", SEVERITY_WARNING, 0, F_PRE_ALARM, D_LINK, None, None, None, None, "link_warn_hold_s",
     "communication with battery lost", "behaviour §7", 0),
    ("W-B07", SEVERITY_WARNING, 0, F_PRE_ALARM, D_SOC_LOW, "low_soc_warning_pct", "soc_reset_margin_pct",
     None, None, None, "low state of charge", "behaviour §5, §7", R_LOW_SOC),
    ("W-B12", SEVERITY_WARNING, 0, 0, D_NONE, None, None, None, None, None,
     "under-voltage warning", "behaviour §7 (12/200)", R_LOW_VOLTAGE),
    ("A-B01", SEVERITY_ALARM, DISCHARGE, F_PRE_ALARM | F_LEAD | F_RECHARGE, D_CELL_LOW, "cell_uv_trip_v",
     "cell_uv_reset_v", "cell_uv_delay_s", "cell_uv_hard_v", "delay", "low cell voltage", "behaviour §1, §7", R_LOW_VOLTAGE),
    ("A-B02", SEVERITY_ALARM, CHARGE, 0, D_CELL_HIGH, "cell_ov_trip_v", "cell_ov_reset_v",
     "cell_ov_delay_s", "cell_ov_hard_v", "delay", "high cell voltage", "project: behaviour §1 names no code", R_HIGH_VOLTAGE),
    ("A-B05", SEVERITY_ALARM, ALL, F_PRE_ALARM | F_LEAD, D_LINK, None, None, "link_lost_alarm_s", None, None,
     "communication with battery lost", "behaviour §1, §7", R_BMS_LOCKOUT),
    ("A-B07", SEVERITY_ALARM, DISCHARGE, 0, D_SOC_LOW, "discharge_limit_pct", "soc_reset_margin_pct",
     None, None, None, "low state of charge (discharge limit)", "behaviour §5, §7", R_LOW_SOC),
    ("A-B08", SEVERITY_ALARM, DISCHARGE, F_LEAD | F_RECHARGE, D_BANK_LOW, "bank_uv_cell_v", "bank_uv_reset_cell_v",
     "bank_uv_delay_s", None, "delay", "low bank voltage", "behaviour §7", R_LOW_VOLTAGE),
    ("A-B09", SEVERITY_ALARM, CHARGE, 0, D_TEMP_HIGH, "charge_ot_trip_c", "charge_ot_reset_c",
     "charge_ot_delay_s", "charge_ot_hard_c", "delay", "high battery temperature", "behaviour §1, §7", R_HIGH_TEMPERATURE),
    ("A-B10", SEVERITY_ALARM, CHARGE, 0, D_TEMP_LOW, "charge_ut_trip_c", "charge_ut_reset_c",
     "charge_ut_delay_s", "charge_ut_hard_c", "delay", "low battery temperature (no charging below the limit)",
     "project: behaviour §1 (NG, 5 °C) names no code", R_LOW_TEMPERATURE),
    ("A-B11", SEVERITY_ALARM, DISCHARGE, 0, D_NONE, None, None, None, None, None,
     "under-voltage", "behaviour §7 (12/200)", R_LOW_VOLTAGE),
    ("A-B15", SEVERITY_ALARM, POWER, 0, D_BMS_TEMP, "bms_temp_max_c", "bms_temp_reset_c", "bms_temp_delay_s",
     "bms_temp_hard_c", "delay", "over-temperature of the BMS (its MOSFETs), or their sensor shorted",
     "behaviour §3, §7; project: derating first, docs/alternator.md", R_HIGH_TEMPERATURE),
    ("A-A12", SEVERITY_ALARM, 0, F_PER_PORT, D_PORT_TRIP, None, None, None, None, None,
     "short circuit / overload / inrush on a port (the port that tripped opens; retries, docs/alternator.md)",
     "behaviour §4, §7", R_SHORT_CIRCUIT),
    ("E-B01", SEVERITY_ERROR, ALL, 0, D_UNEVEN, None, None, "bank_check_s", None, None,
     "battery configuration invalid", "behaviour §7", 0),
    ("E-B05", SEVERITY_ERROR, ALL, 0, D_MIXED, None, None, "bank_check_s", None, None,
     "battery configuration invalid", "behaviour §7", 0),
    ("E-B09", SEVERITY_ERROR, ALL, 0, D_BANK_RANGE, None, None, "bank_check_s", None, None,
     "battery voltage outside every system-voltage range", "behaviour §7", 0),
    ("E-B11", SEVERITY_ERROR, ALL, F_PRE_ALARM, D_BATTERY_FAULT, None, None, None, None, "battery_fault_clear_s",
     "hardware fault (a battery reports an internal fault or an impossible value)",
     "behaviour §1, §7; docs/link-protocol.md flags and ranges", 0),
    ("E-B30", SEVERITY_ERROR, ALL, 0, D_NONE, None, None, None, None, None,
     "calibration data corrupt or missing", "behaviour §7", 0),
    ("E-B31", SEVERITY_ERROR, 0, 0, D_CONFIG, None, None, None, None, None,
     "configuration data corrupt or missing", "behaviour §7, §9", 0),
    ("E-B32", SEVERITY_ERROR, ALL, 0, D_NO_BATTERY, None, None, None, None, None,
     "battery BMS cable (M8) disconnected or faulty", "behaviour §7", 0),
    ("E-B33", SEVERITY_ERROR, ALL, 0, D_NONE, None, None, None, None, None,
     "reference voltage fault", "behaviour §7", 0),
)

_BY_TEXT = {}
for _i in range(N_CODES):
    _BY_TEXT[TABLE[_i][0]] = _i


def code_id(text):
    """Return the id of code ``text`` such as ``"A-B01"``; raise ``KeyError`` if unknown."""
    return _BY_TEXT[text]


def text(cid):
    """Return the code text (``"A-B01"``) of id ``cid``."""
    return TABLE[cid][0]


def severity(cid):
    return TABLE[cid][1]


def withdraws(cid):
    """Bit mask of the ports (``ATC``, ``ATD``, ``ALT``, ``SYS_CHG``, ``SYS_DIS``) code ``cid`` withdraws."""
    return TABLE[cid][2]


def flags(cid):
    return TABLE[cid][3]


def drives_pre_alarm(cid):
    return bool(TABLE[cid][3] & F_PRE_ALARM)


def detector(cid):
    return TABLE[cid][4]


def meaning(cid):
    return TABLE[cid][10]


def readout_reason(cid):
    """The Instant Readout alarm reason code ``cid`` is broadcast as (``R_*``, 0 none)."""
    return TABLE[cid][12]


def error_number(cid):
    """The number of an error code (E-B11 -> 11), the Instant Readout error byte; 0 for others."""
    t = TABLE[cid][0]
    return int(t[3:]) if t[0] == "E" else 0


def reason_names(mask):
    """The reasons in a port's reason mask, as a list of str: ``startup``,
    ``remote-off`` and code texts in table order. Allocates: not for the tick."""
    out = []
    if mask & BIT_STARTUP:
        out.append(REASON_STARTUP)
    for cid in range(N_CODES):
        if mask & (1 << cid):
            out.append(TABLE[cid][0])
    if mask & BIT_REMOTE_OFF:
        out.append(REASON_REMOTE_OFF)
    if mask & BIT_NOT_12V:
        out.append(REASON_NOT_12V)
    if mask & BIT_UPDATING:
        out.append(REASON_UPDATING)
    return out
