"""Model profiles: the BMS family as data (behaviour §12).

A profile is the product (Smart BMS 12/200, smallBMS NG, Lynx Smart BMS, ...);
the board file is the pins. The ``model`` setting selects the profile (``board``,
its default, takes the board file's ``"model"``, else ``DEFAULT``); the board
file must have a pin for every output the profile lists (``check_board``), or
the firmware refuses to start.

A profile is ``(title, outputs, features, max_system_v, max_batteries,
max_batteries_48v, alternator_a)``:

- ``outputs``: ``(output name, kind, argument, rating_ma)`` each; ``KIND_PORT``
  follows a port's permission (argument ``codes.PORT_*``), ``KIND_PRE_ALARM`` the
  pre-alarm, ``KIND_LED`` an indicator (``indicators.LED_*``), ``KIND_ALTERNATOR``
  the alternator regulator's gate PWM, ``KIND_SYSTEM`` a System+ gate
  (``SYS_GATE_*``), ``KIND_CONTACTOR`` closed while ATC or ATD is allowed (the
  Lynx Smart BMS's contactor and aux output). ``rating_ma``: the product's
  terminal rating (0 = an indicator or a power port, rated by ``alternator_a``
  or the title). A profile with a ``KIND_ALTERNATOR`` / ``KIND_SYSTEM`` output
  runs that port's logic.
- ``features``: ``FEAT_*`` bits (Bluetooth, remote on/off, the product's own
  battery monitor, firmware update).
- ``max_system_v``: 12 (12 V only) or 48 (12/24/48 V): a bank whose nominal
  voltage is above it is E-B09.
- ``max_batteries`` (``max_batteries_48v`` on a 48 V bank): more batteries on the
  link is E-B01, an invalid configuration (behaviour §6).
- ``alternator_a``: the alternator port's rating; it caps the fuse table's limit.
"""
from micropython import const

import board as BD
import codes as C
import indicators as L

KIND_PORT = const(0)
KIND_PRE_ALARM = const(1)
KIND_LED = const(2)
KIND_ALTERNATOR = const(3)
KIND_SYSTEM = const(4)
KIND_CONTACTOR = const(5)

SYS_GATE_CHARGE = const(0)
SYS_GATE_DISCHARGE = const(1)
SYS_GATE_PRECHARGE = const(2)

FEAT_BLUETOOTH = const(1)
FEAT_REMOTE = const(2)
FEAT_MONITOR = const(4)       # the product has a battery monitor (this firmware keeps one in every profile)
FEAT_FW_UPDATE = const(8)

_LOAD_10MA = ("load_disconnect", KIND_PORT, C.PORT_ATD, 10)
_CHARGE_10MA = ("charge_disconnect", KIND_PORT, C.PORT_ATC, 10)
_PRE_1A = ("pre_alarm", KIND_PRE_ALARM, 0, 1000)
_ERROR_LED = ("status_led", KIND_LED, L.LED_ERROR, 0)      # the error LED (NG); a DevKit's one LED
_SYSTEM = (("system_charge", KIND_SYSTEM, SYS_GATE_CHARGE, 0),
           ("system_discharge", KIND_SYSTEM, SYS_GATE_DISCHARGE, 0),
           ("system_precharge", KIND_SYSTEM, SYS_GATE_PRECHARGE, 0))
_ALT = ("alternator_port", KIND_ALTERNATOR, 0, 0)
# behaviour §8, left to right (the Smart BMS 12/200's seven indicators).
_LEDS_12_200 = (("led_alternator", KIND_LED, L.LED_ALTERNATOR, 0), ("led_bms_temp", KIND_LED, L.LED_BMS_TEMP, 0),
                ("led_bms_active", KIND_LED, L.LED_BMS_ACTIVE, 0), ("led_bluetooth", KIND_LED, L.LED_BLUETOOTH, 0),
                ("led_charge", KIND_LED, L.LED_CHARGE, 0), ("led_load", KIND_LED, L.LED_LOAD, 0),
                ("led_system_charge", KIND_LED, L.LED_SYSTEM_CHARGE, 0))
_BT_LED = ("led_bluetooth", KIND_LED, L.LED_BLUETOOTH, 0)

# Profile names in a fixed order (the ``model`` setting's choices; dicts are
# unordered on MicroPython).
NAMES = ("smart_bms_12_200", "smart_bms_cl_12_100", "bms_12_200", "smallbms_ng", "smallbms",
         "lynx_smart_bms", "vebus_bms", "vebus_bms_v2")
DEFAULT = "smart_bms_12_200"

# Every number is behaviour §12's table (terminal ratings, ports, system voltages)
# and §6 (battery limits: 5 in parallel on the 12 V Smart BMSs, "up to 20" in the
# family datasheet, 50 / 25 at 48 V on the NG).
PROFILES = {
    "smart_bms_12_200": ("Smart BMS 12/200", (_LOAD_10MA, _CHARGE_10MA, _PRE_1A, _ERROR_LED, _ALT) + _SYSTEM
                         + _LEDS_12_200, FEAT_BLUETOOTH | FEAT_REMOTE | FEAT_FW_UPDATE, 12, 5, 5, 100),
    "smart_bms_cl_12_100": ("Smart BMS CL 12/100", (_LOAD_10MA, _CHARGE_10MA, _PRE_1A, _ERROR_LED, _ALT)
                            + _LEDS_12_200[:6], FEAT_BLUETOOTH | FEAT_REMOTE | FEAT_FW_UPDATE, 12, 5, 5, 100),
    # No load or charge terminal, no pre-alarm, no Bluetooth; an 80 A alternator port.
    "bms_12_200": ("BMS 12/200", (_ERROR_LED, _ALT) + _SYSTEM + _LEDS_12_200[:3] + _LEDS_12_200[4:],
                   FEAT_REMOTE, 12, 5, 5, 80),
    "smallbms_ng": ("smallBMS NG", (("load_disconnect", KIND_PORT, C.PORT_ATD, 1000),
                                    ("charge_disconnect", KIND_PORT, C.PORT_ATC, 500),
                                    ("pre_alarm", KIND_PRE_ALARM, 0, 500), _ERROR_LED, _BT_LED),
                    FEAT_BLUETOOTH | FEAT_REMOTE | FEAT_MONITOR | FEAT_FW_UPDATE, 48, 50, 25, 0),
    "smallbms": ("smallBMS (with pre-alarm)", (("load_disconnect", KIND_PORT, C.PORT_ATD, 1000), _CHARGE_10MA,
                                               _PRE_1A, _ERROR_LED), FEAT_REMOTE, 48, 20, 20, 0),
    # Relays for load (ATD) and charge (ATC), a programmable pre-alarm relay, the
    # main contactor, the aux output and the alternator's ATC signal ("ATC mode").
    "lynx_smart_bms": ("Lynx Smart BMS", (("load_disconnect", KIND_PORT, C.PORT_ATD, 500),
                                          ("charge_disconnect", KIND_PORT, C.PORT_ATC, 500),
                                          ("pre_alarm", KIND_PRE_ALARM, 0, 2000), _ERROR_LED,
                                          ("contactor", KIND_CONTACTOR, 0, 0),
                                          ("aux_output", KIND_CONTACTOR, 0, 1100),
                                          ("alternator_atc", KIND_PORT, C.PORT_ATC, 500), _BT_LED),
                       FEAT_BLUETOOTH | FEAT_REMOTE | FEAT_MONITOR | FEAT_FW_UPDATE, 48, 20, 20, 0),
    # Their terminals only: VE.Bus itself is not reproduced (docs/models.md).
    "vebus_bms": ("VE.Bus BMS", (("load_disconnect", KIND_PORT, C.PORT_ATD, 2000), _CHARGE_10MA, _PRE_1A,
                                 _ERROR_LED), 0, 48, 20, 20, 0),
    "vebus_bms_v2": ("VE.Bus BMS V2", (("load_disconnect", KIND_PORT, C.PORT_ATD, 1000), _CHARGE_10MA, _PRE_1A,
                                       _ERROR_LED, ("aux_output", KIND_CONTACTOR, 0, 1000)), FEAT_REMOTE, 48, 20, 20, 0),
}

# Settings that apply only where the profile has the hardware, by what they
# need (every other setting applies to every model).
NEEDS_ALTERNATOR = ("fuse_type", "fuse_cal_pct", "belt_limit_pct", "alternator_min_input_v", "charge_limit_v",
                    "charge_resume_margin_v", "charge_resume_s", "alternator_temp_derate_c",
                    "alternator_temp_max_c", "bms_temp_derate_c")
NEEDS_POWER_PORT = ("bms_temp_max_c", "bms_temp_reset_c", "bms_temp_delay_s", "bms_temp_hard_c")
NEEDS_SYSTEM = ("system_retries", "system_retry_s", "system_stable_s", "precharge_timeout_s", "precharge_margin_v")
NEEDS_PRE_ALARM = ("pre_alarm_usage", "pre_alarm_mode", "pre_alarm_blink_s")
NEEDS_REMOTE = ("remote_function", "remote_l_on_below_v", "remote_h_on_above_v")
NEEDS_BLUETOOTH = ("bluetooth", "instant_readout", "readout_cells", "ble_model_id")
# Codes that only a model with a power port can raise.
POWER_PORT_CODES = ("A-B15", "A-A12")


def profile(name):
    """The profile tuple of ``name``; ``ValueError`` names the known ones."""
    p = PROFILES.get(name)
    if p is None:
        raise ValueError("unknown model profile '%s' (known: %s)" % (name, ", ".join(NAMES)))
    return p


def outputs(name):
    """The outputs of profile ``name``: ``(name, kind, argument, rating_ma)`` each."""
    return profile(name)[1]


def title(name):
    """The product name of profile ``name`` (``"Smart BMS 12/200"``)."""
    return profile(name)[0]


def has_kind(name, kind):
    """True when profile ``name`` has an output of ``kind`` (its port's logic runs)."""
    for o in outputs(name):
        if o[1] == kind:
            return True
    return False


def has_feature(name, feat):
    """True when profile ``name`` has feature ``feat`` (``FEAT_*``)."""
    return bool(profile(name)[2] & feat)


def has_power_port(name):
    """True when profile ``name`` has the alternator or the System+ port."""
    return has_kind(name, KIND_ALTERNATOR) or has_kind(name, KIND_SYSTEM)


def leds(name):
    """The indicator mask of profile ``name``: bit ``indicators.LED_*`` per LED it has."""
    m = 0
    for o in outputs(name):
        if o[1] == KIND_LED:
            m |= 1 << o[2]
    return m


def resolve(model, board):
    """The profile name the ``model`` setting selects on ``board`` (a board dict):
    ``"board"`` takes the board file's ``"model"`` (else ``DEFAULT``)."""
    if model == "board":
        model = board.get("model", DEFAULT)
    profile(model)
    return model


def check_board(name, board):
    """Raise ``board.BoardError`` unless ``board`` (a dict) has a pin for every
    output profile ``name`` needs (indicators are optional: those without a pin
    show in ``diag.status()``); the message names the missing ones and the fix."""
    missing = [o[0] for o in outputs(name) if o[1] != KIND_LED and o[0] not in board["outputs"]]
    if missing:
        raise BD.BoardError("the %s (model '%s') needs output%s %s, which board file '%s' lacks: add %s to its "
                            "\"outputs\", or set another model" % (
                                title(name), name, "s" if len(missing) > 1 else "", ", ".join(missing),
                                board.get("name", "?"), "them" if len(missing) > 1 else "it"))


def setting_applies(name, setting):
    """None when ``setting`` applies to profile ``name``, else the reason it does not (str)."""
    if setting in NEEDS_ALTERNATOR and not has_kind(name, KIND_ALTERNATOR):
        why = "no alternator port"
    elif setting in NEEDS_POWER_PORT and not has_power_port(name):
        why = "no alternator or System+ port"
    elif setting in NEEDS_SYSTEM and not has_kind(name, KIND_SYSTEM):
        why = "no System+ port"
    elif setting in NEEDS_PRE_ALARM and not has_kind(name, KIND_PRE_ALARM):
        why = "no pre-alarm output"
    elif setting in NEEDS_REMOTE and not has_feature(name, FEAT_REMOTE):
        why = "no remote on/off input"
    elif setting in NEEDS_BLUETOOTH and not has_feature(name, FEAT_BLUETOOTH):
        why = "no Bluetooth"
    else:
        return None
    return "%s does not apply to the %s (%s)" % (setting, title(name), why)


def code_applies(name, text):
    """True when profile ``name`` can raise code ``text`` (``"A-A12"``)."""
    return text not in POWER_PORT_CODES or has_power_port(name)
