"""Model profiles: which outputs the product has and what drives each (behaviour §12).

A profile is the product (Smart BMS 12/200, smallBMS NG, ...); the board file is
the pins. Each output of a profile is ``(output name, kind, port)``: ``KIND_PORT``
follows a port's permission (``codes.PORT_*``), ``KIND_PRE_ALARM`` the pre-alarm,
``KIND_LED`` the status LED. The alternator (PWM regulator) and System+ kinds
come with their ports; until then those ports are switched outputs.
"""
from micropython import const

import codes as C

KIND_PORT = const(0)
KIND_PRE_ALARM = const(1)
KIND_LED = const(2)

_COMMON = (
    ("load_disconnect", KIND_PORT, C.PORT_ATD),
    ("charge_disconnect", KIND_PORT, C.PORT_ATC),
    ("pre_alarm", KIND_PRE_ALARM, 0),
    ("status_led", KIND_LED, 0),
)

PROFILES = {
    "smart_bms_12_200": _COMMON + (
        ("alternator_port", KIND_PORT, C.PORT_ALT),
        ("system_charge", KIND_PORT, C.PORT_SYS_CHG),
        ("system_discharge", KIND_PORT, C.PORT_SYS_DIS),
    ),
    "smallbms_ng": _COMMON,
}
DEFAULT = "smart_bms_12_200"


def outputs(name):
    """The outputs of profile ``name``; ``ValueError`` names the known ones."""
    p = PROFILES.get(name)
    if p is None:
        raise ValueError("unknown model profile '%s' (known: %s)" % (name, ", ".join(sorted(PROFILES))))
    return p
