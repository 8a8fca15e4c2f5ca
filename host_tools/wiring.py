"""docs/wiring.md from the sources: every model profile (``firmware/models.py``)
on every board file (``boards/*.json``) that fits it.

``wiring_md()`` returns the text; ``python -m host_tools.docgen`` writes it and
``tests/test_codes.py`` fails when the file differs, so the wiring cannot drift
from the profiles and the board files. The terminal descriptions and the remote
cable lists (which chargers and loads a terminal drives directly, which need an
inverting or non-inverting remote on/off cable) are the smallBMS NG manual's
Appendix A, restated.
"""
import glob
import json
import os

import host_tools

host_tools.use_firmware()
import board as BD  # noqa: E402
import models as M  # noqa: E402
import settings as S  # noqa: E402

# Output name -> (terminal, what the pin drives and how the terminal behaves).
TERMINALS = {
    "load_disconnect": ("Load disconnect (ATD)", "a high-side switch: the terminal is at battery voltage while "
                        "discharging is allowed and floats when not (behaviour §1)"),
    "charge_disconnect": ("Charge disconnect (ATC)", "a high-side switch: battery voltage while charging is allowed, "
                          "floating when not"),
    "pre_alarm": ("Pre-alarm", "a high-side switch: battery voltage while the pre-alarm is on (continuous, or "
                  "blinking with pre_alarm_mode = intermittent), floating otherwise; a buzzer, a light or a relay"),
    "status_led": ("Error LED (red)", "an LED through a resistor: off = no code, blinking = warnings, on = an alarm "
                   "or error"),
    "alternator_port": ("Alternator port gate", "PWM into the gate driver's RC filter: the port's MOSFETs regulate "
                        "the current (docs/alternator.md)"),
    "system_charge": ("System+ charge gate", "the gate driver of the System+ MOSFETs, charge direction"),
    "system_discharge": ("System+ discharge gate", "the gate driver of the System+ MOSFETs, discharge direction"),
    "system_precharge": ("System+ pre-charge switch", "the pre-charge resistor's switch (before closing onto an "
                         "inverter's capacitors)"),
    "contactor": ("Main contactor", "the contactor coil's driver (a MOSFET, a flyback diode, an economiser): closed "
                  "while charging or discharging is allowed, open when both are withdrawn"),
    "aux_output": ("Aux output", "a high-side switch: on while the contactor would be closed (a GX device's supply)"),
    "alternator_atc": ("Alternator ATC", "a relay to the alternator regulator's remote (ignition) input: charging "
                       "allowed"),
    "led_alternator": ("LED alternator (green)", "on while the alternator port charges"),
    "led_bms_temp": ("LED BMS over-temperature (red)", "blinks while derating, on with A-B15"),
    "led_bms_active": ("LED BMS active (green)", "blinks until the first reading, then on"),
    "led_bluetooth": ("LED Bluetooth (blue)", "blinks while advertising, on while connected"),
    "led_charge": ("LED charge disconnect enabled (yellow)", "on while ATC"),
    "led_load": ("LED load disconnect enabled (orange)", "on while ATD"),
    "led_system_charge": ("LED charging from System+ (green)", "on while the System+ charge direction is closed"),
}

# smallBMS NG manual, Appendix A (facts restated): what the Load and Charge
# terminals drive directly, and what needs a remote on/off cable.
LOADS_DIRECT = (
    "Inverters with VE.Direct, and Smart inverters: to terminal H of the 2-pole remote connector",
    "Tr DC-DC converters with a remote on/off connector, the Orion 12/24-20 and the Orion XS: to the right-hand "
    "terminal of the 2-pole connector",
    "BatteryProtect: to terminal 2.1 (the right-hand one); Smart BatteryProtect: to the H pin of the 2-pole connector",
    "Cyrix-Li-Load: to its control input",
)
LOADS_INVERTING = (
    "VE.Bus inverters and Inverter Compacts of 1200 VA and more: an **inverting** remote on/off cable "
    "(ASS030550100 or -120)",
)
CHARGERS_DIRECT = (
    "BlueSolar MPPT 150/70 and 150/80 CAN-bus: to the left-hand terminal (B+) of the 2-pole connector",
    "SmartSolar MPPT 150/45 and larger, 250/60 and larger: to the right-hand terminal (+) or the left-hand one (H)",
    "Smart IP43 chargers: to terminal H of the 2-pole connector",
)
CHARGERS_CABLE = (
    "BlueSolar MPPTs other than the 150/70 and 150/80 CAN-bus, and SmartSolar MPPTs up to 150/35: a VE.Direct "
    "**non-inverting** remote on/off cable (ASS030550320)",
    "Skylla TG chargers: a **non-inverting** remote on/off cable (ASS030550200)",
    "Skylla-i chargers: the Skylla-i remote on/off cable (ASS030550400)",
    "any other charger: switch its supply with a Cyrix-Li-Charge",
)


def boards():
    """[(file stem, validated board dict)] of ``boards/*.json``, sorted by stem."""
    out = []
    for p in sorted(glob.glob(os.path.join(host_tools.BOARDS_DIR, "*.json")), key=lambda p: os.path.basename(p)[:-5]):
        with open(p) as f:
            out.append((os.path.basename(p)[:-5], BD.validate(json.load(f))))
    return out


def fits(profile, b):
    """True when board dict ``b`` has every pin ``profile`` needs."""
    try:
        M.check_board(profile, b)
    except BD.BoardError:
        return False
    return True


def _rating(profile, o):
    if o[3]:
        amps = o[3] / 1000.0
        text = ("%g mA" % o[3]) if o[3] < 1000 else ("%g A" % amps)
        relay = profile == "lynx_smart_bms" and o[0] in ("load_disconnect", "charge_disconnect", "pre_alarm",
                                                         "alternator_atc")
        return ("relay, " if relay else "") + text
    if o[1] == M.KIND_ALTERNATOR:
        return "%d A" % M.profile(profile)[6]
    if o[0] == "contactor":
        return "500 / 1000 A"
    if o[1] == M.KIND_SYSTEM:
        return "200 A" if o[2] != M.SYS_GATE_PRECHARGE else "–"
    return "–"


def _features(name):
    p = M.profile(name)
    yes = lambda b: "yes" if b else "–"  # noqa: E731
    return [
        ("system voltage", "12 V" if p[3] == 12 else "12 / 24 / 48 V"),
        ("batteries", ("up to %d" % p[4]) + ("" if p[5] == p[4] else " (%d at 48 V)" % p[5])),
        ("alternator port", ("%d A" % p[6]) if p[6] else ("ATC signal" if any(o[0] == "alternator_atc"
                                                                            for o in p[1]) else "–")),
        ("System+ port", "200 A" if M.has_kind(name, M.KIND_SYSTEM) else "–"),
        ("Bluetooth", yes(p[2] & M.FEAT_BLUETOOTH)),
        ("remote on/off", yes(p[2] & M.FEAT_REMOTE)),
        ("battery monitor of the product", yes(p[2] & M.FEAT_MONITOR)),
    ]


def _section(name, all_boards):
    lines = ["## %s (`model = \"%s\"`)" % (M.title(name), name), ""]
    lines += ["| | |", "| --- | --- |"]
    lines += ["| %s | %s |" % kv for kv in _features(name)]
    lines.append("")
    fit = [(stem, b) for stem, b in all_boards if fits(name, b)]
    if not fit:
        lines += ["No board file in `boards/` has its pins yet: write one (the outputs below).", ""]
    else:
        names = ", ".join("`%s`%s" % (stem, " (its board)" if b.get("model") == name else "") for stem, b in fit)
        lines += ["Boards that fit: %s." % names, ""]
    head = "| output | terminal | rating | drives |" + "".join(" `%s` |" % stem for stem, _ in fit)
    lines += [head, "|" + " --- |" * (4 + len(fit))]
    for o in M.outputs(name):
        term, drives = TERMINALS[o[0]]
        pins = ""
        for _, b in fit:
            d = b["outputs"].get(o[0])
            pins += (" GPIO %d%s |" % (d["pin"], "" if d.get("active_high", True) else " (active low)")) \
                if d is not None else " – (shown in diag) |"
        rating = _rating(name, o)
        if rating.startswith("relay"):
            drives = "a relay coil's driver (a transistor, a flyback diode): the contact closes when the output is on"
        lines.append("| `%s` | %s | %s | %s |%s" % (o[0], term, rating, drives, pins))
    lines.append("")
    off = [s[0] for s in S.SCHEMA if M.setting_applies(name, s[0])]
    lines.append("Settings that do not apply (refused): %s." % (", ".join("`%s`" % s for s in off) or "none"))
    codes = [c for c in M.POWER_PORT_CODES if not M.code_applies(name, c)]
    lines.append("Codes it never raises: %s." % (", ".join(codes) or "none"))
    lines.append("")
    return lines


def _list(title, items):
    return ["**%s**" % title, ""] + ["- %s" % i for i in items] + [""]


def wiring_md():
    all_boards = boards()
    lines = [
        "# Wiring, per model and board",
        "",
        "Generated from `firmware/models.py` and `boards/*.json` by `python -m host_tools.docgen`; do not",
        "edit. How a model is chosen and why the profiles are what they are: [models.md](models.md).",
        "",
        "The ESP32's pins are 3.3 V logic: each drives a stage (a high-side switch, a relay or",
        "contactor driver, a gate driver, an LED's resistor), never a load. \"On\" is the pin at its",
        "active level; every output starts off, which is the safe state. The link UART and the",
        "remote L/H inputs are the same on every model:",
        "",
        "| board | link UART TX → ring in | RX ← ring out | remote L (ADC) | remote H (ADC) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for stem, b in all_boards:
        u, i = b["link_uart"], b["inputs"]
        lines.append("| `%s` | GPIO %d | GPIO %d | GPIO %d | GPIO %d |" % (
            stem, u["tx"], u["rx"], i["remote_l"]["adc_pin"], i["remote_h"]["adc_pin"]))
    lines += ["", "A model's indicators are optional: one without a pin shows in `diag.status()`.", ""]
    for name in M.NAMES:
        lines += _section(name, all_boards)
    lines += [
        "## The load and charge terminals: what to connect",
        "",
        "For every model with high-side load and charge terminals (the Lynx Smart BMS has relay",
        "contacts: wire them as a switch in the device's remote loop). A device whose remote input",
        "wants a voltage to run is driven directly; one that runs when its remote input is *open*",
        "needs an inverting cable.",
        "",
    ]
    lines += _list("Loads the Load disconnect terminal drives directly", LOADS_DIRECT)
    lines += _list("Loads that need an inverting cable", LOADS_INVERTING)
    lines += _list("Chargers the Charge disconnect terminal drives directly", CHARGERS_DIRECT)
    lines += _list("Chargers that need a remote cable or a Cyrix", CHARGERS_CABLE)
    return "\n".join(lines)
