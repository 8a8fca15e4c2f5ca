"""Model profiles: which outputs the product has and what drives each (behaviour §12).

A profile is the product (Smart BMS 12/200, smallBMS NG, ...); the board file is
the pins. Each output of a profile is ``(output name, kind, argument)``:
``KIND_PORT`` follows a port's permission (argument ``codes.PORT_*``),
``KIND_PRE_ALARM`` the pre-alarm, ``KIND_LED`` an indicator (argument
``indicators.LED_*``), ``KIND_ALTERNATOR`` the alternator regulator's gate PWM,
``KIND_SYSTEM`` a System+ gate (argument ``SYS_GATE_*``). A profile with a
``KIND_ALTERNATOR`` / ``KIND_SYSTEM`` output runs that port's logic.
"""
from micropython import const

import codes as C
import indicators as L

KIND_PORT = const(0)
KIND_PRE_ALARM = const(1)
KIND_LED = const(2)
KIND_ALTERNATOR = const(3)
KIND_SYSTEM = const(4)

SYS_GATE_CHARGE = const(0)
SYS_GATE_DISCHARGE = const(1)
SYS_GATE_PRECHARGE = const(2)

_COMMON = (
    ("load_disconnect", KIND_PORT, C.PORT_ATD),
    ("charge_disconnect", KIND_PORT, C.PORT_ATC),
    ("pre_alarm", KIND_PRE_ALARM, 0),
    ("status_led", KIND_LED, L.LED_ERROR),      # the error LED (NG); a DevKit's one LED on the 12/200
)

PROFILES = {
    # behaviour §3, §4, §8: alternator port, System+ port, seven indicators.
    "smart_bms_12_200": _COMMON + (
        ("alternator_port", KIND_ALTERNATOR, 0),
        ("system_charge", KIND_SYSTEM, SYS_GATE_CHARGE),
        ("system_discharge", KIND_SYSTEM, SYS_GATE_DISCHARGE),
        ("system_precharge", KIND_SYSTEM, SYS_GATE_PRECHARGE),
        ("led_alternator", KIND_LED, L.LED_ALTERNATOR),
        ("led_bms_temp", KIND_LED, L.LED_BMS_TEMP),
        ("led_bms_active", KIND_LED, L.LED_BMS_ACTIVE),
        ("led_bluetooth", KIND_LED, L.LED_BLUETOOTH),
        ("led_charge", KIND_LED, L.LED_CHARGE),
        ("led_load", KIND_LED, L.LED_LOAD),
        ("led_system_charge", KIND_LED, L.LED_SYSTEM_CHARGE),
    ),
    # behaviour §8, §12: no power ports; Bluetooth and error LEDs.
    "smallbms_ng": _COMMON + (
        ("led_bluetooth", KIND_LED, L.LED_BLUETOOTH),
    ),
}
DEFAULT = "smart_bms_12_200"


def outputs(name):
    """The outputs of profile ``name``; ``ValueError`` names the known ones."""
    p = PROFILES.get(name)
    if p is None:
        raise ValueError("unknown model profile '%s' (known: %s)" % (name, ", ".join(sorted(PROFILES))))
    return p


def has_kind(name, kind):
    """True when profile ``name`` has an output of ``kind`` (its port's logic runs)."""
    for o in outputs(name):
        if o[1] == kind:
            return True
    return False


def leds(name):
    """The indicator mask of profile ``name``: bit ``indicators.LED_*`` per LED it has."""
    m = 0
    for o in outputs(name):
        if o[1] == KIND_LED:
            m |= 1 << o[2]
    return m
