"""The one table of warning, alarm and error codes.

Every code the firmware raises is a row here: its text, its severity, what it
withdraws and whether it drives the pre-alarm output. Protection, LEDs, the REPL
diagnostics, the trace and the docs all read this table; nothing else decides what a
code does. Source: behaviour.md §7; rows marked "project" are this project's
additions where the reference names a behaviour but no code (docs/protection.md).
"""
from micropython import const

# What a code withdraws: a bit mask.
WITHDRAW_ATC = const(1)
WITHDRAW_ATD = const(2)

SEVERITY_WARNING = const(1)
SEVERITY_ALARM = const(2)
SEVERITY_ERROR = const(3)

SEVERITY_NAMES = {1: "warning", 2: "alarm", 3: "error"}

# Code ids: small integers so the protection state is a flat list, no dict per tick.
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

# Reasons that withdraw ATC/ATD without being a fault: not codes, but named the
# same way so every withdrawal can say why (docs/protection.md).
REASON_STARTUP = "startup"      # no valid bank reading since boot yet
REASON_REMOTE_OFF = "remote-off"  # remote terminal or soft switch OFF, "switch everything off"

# (code text, severity, withdraws, drives pre-alarm, meaning, source), indexed by id.
TABLE = (
    ("W-B01", SEVERITY_WARNING, 0, True, "low cell voltage (pre-alarm)", "behaviour §1, §7"),
    ("W-B05", SEVERITY_WARNING, 0, True, "communication with battery lost", "behaviour §7"),
    ("W-B07", SEVERITY_WARNING, 0, True, "low state of charge", "behaviour §5, §7"),
    ("W-B12", SEVERITY_WARNING, 0, False, "under-voltage warning", "behaviour §7 (12/200)"),
    ("A-B01", SEVERITY_ALARM, WITHDRAW_ATD, True, "low cell voltage", "behaviour §1, §7"),
    ("A-B02", SEVERITY_ALARM, WITHDRAW_ATC, False, "high cell voltage", "project: behaviour §1 names no code"),
    ("A-B05", SEVERITY_ALARM, WITHDRAW_ATC | WITHDRAW_ATD, True, "communication with battery lost", "behaviour §1, §7"),
    ("A-B07", SEVERITY_ALARM, WITHDRAW_ATD, False, "low state of charge (discharge limit)", "behaviour §5, §7"),
    ("A-B08", SEVERITY_ALARM, WITHDRAW_ATD, False, "low bank voltage", "behaviour §7"),
    ("A-B09", SEVERITY_ALARM, WITHDRAW_ATC, False, "high battery temperature", "behaviour §1, §7"),
    ("A-B10", SEVERITY_ALARM, WITHDRAW_ATC, False, "low battery temperature (no charging below the limit)", "project: behaviour §1 (NG, 5 °C) names no code"),
    ("A-B11", SEVERITY_ALARM, WITHDRAW_ATD, False, "under-voltage", "behaviour §7 (12/200)"),
    ("A-B15", SEVERITY_ALARM, 0, False, "over-temperature of the BMS", "behaviour §3, §7"),
    ("A-A12", SEVERITY_ALARM, 0, False, "short circuit / overload / inrush on a port", "behaviour §4, §7"),
    ("E-B01", SEVERITY_ERROR, WITHDRAW_ATC | WITHDRAW_ATD, False, "battery configuration invalid", "behaviour §7"),
    ("E-B05", SEVERITY_ERROR, WITHDRAW_ATC | WITHDRAW_ATD, False, "battery configuration invalid", "behaviour §7"),
    ("E-B09", SEVERITY_ERROR, WITHDRAW_ATC | WITHDRAW_ATD, False, "battery voltage outside every system-voltage range", "behaviour §7"),
    ("E-B11", SEVERITY_ERROR, WITHDRAW_ATC | WITHDRAW_ATD, False, "hardware fault", "behaviour §7"),
    ("E-B30", SEVERITY_ERROR, WITHDRAW_ATC | WITHDRAW_ATD, False, "calibration data corrupt or missing", "behaviour §7"),
    ("E-B31", SEVERITY_ERROR, 0, False, "configuration data corrupt or missing", "behaviour §7, §9"),
    ("E-B32", SEVERITY_ERROR, WITHDRAW_ATC | WITHDRAW_ATD, False, "battery BMS cable (M8) disconnected or faulty", "behaviour §7"),
    ("E-B33", SEVERITY_ERROR, WITHDRAW_ATC | WITHDRAW_ATD, False, "reference voltage fault", "behaviour §7"),
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
    """Bit mask of ``WITHDRAW_ATC`` / ``WITHDRAW_ATD`` for code id ``cid``."""
    return TABLE[cid][2]


def drives_pre_alarm(cid):
    return TABLE[cid][3]


def meaning(cid):
    return TABLE[cid][4]
