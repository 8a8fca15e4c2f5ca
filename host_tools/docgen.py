"""Write docs/codes.md, docs/settings.md and docs/wiring.md from the sources.

``python -m host_tools.docgen`` rewrites them; ``tests/test_codes.py`` fails when
they differ from what this would write, so the docs cannot drift from the code.
"""
import os
import re
import sys

import host_tools

host_tools.use_firmware()
import codes as C  # noqa: E402
import qualifier as Q  # noqa: E402
import settings as S  # noqa: E402

UNIT_TEXT = {"degC": "°C", "d": "days", "n": "times", "id": ""}
PORT_GROUPS = ((C.ALL, "everything"), (C.CHARGE, "charging"), (C.DISCHARGE, "discharging"))


def ports_text(mask):
    """What a port mask withdraws, in words: ``charging (ATC, alternator, System+ charge)``."""
    if mask == 0:
        return "nothing"
    names = ", ".join(C.PORT_NAMES[p] for p in range(C.N_PORTS) if mask & (1 << p))
    for group, word in PORT_GROUPS:
        if mask == group:
            return "%s (%s)" % (word, names)
    return names


def detector_texts():
    """``{detector value: comment}`` from the ``D_*`` constants of firmware/codes.py."""
    out = {}
    pattern = re.compile(r"^(D_\w+)\s*=\s*const\((\d+)\)\s*#\s*(.+?)\s*$")
    with open(os.path.join(host_tools.FIRMWARE_DIR, "codes.py")) as f:
        for line in f:
            m = pattern.match(line)
            if m:
                out[int(m.group(2))] = m.group(3)
    return out


def setting_text(name):
    """A setting with its default: ``cell_uv_trip_v`` 2.8 V."""
    row = S.schema_row(name)
    unit = UNIT_TEXT.get(row[1], row[1])
    return "`%s` %s %s" % (name, row[2], unit)


def _cell(name):
    return setting_text(name) if name else "–"


_READOUT_NAMES = {1: "low voltage", 2: "high voltage", 4: "low SoC", 32: "low temperature",
                  64: "high temperature", 4096: "short circuit", 8192: "BMS lockout"}


def _readout_text(cid, readout):
    if C.error_number(cid):
        return "error %d" % C.error_number(cid)
    if readout:
        return "alarm %d (%s)" % (readout, _READOUT_NAMES[readout])
    return "–"


def codes_md():
    det = detector_texts()
    lines = [
        "# Warning, alarm and error codes",
        "",
        "Generated from `firmware/codes.py` by `python -m host_tools.docgen`; do not edit.",
        "One row per code says everything about it: what it withdraws, whether it drives",
        "the pre-alarm output, the detector that watches for it and the settings of its",
        "qualifier. Diagnosis, the decide stage, the LEDs, the REPL, the trace and these",
        "docs all read that table. Why each project-chosen row is as it is:",
        "docs/protection.md.",
        "",
        "| code | severity | withdraws | pre-alarm | lead | latched until recharge | detector | trip | reset"
        " | delay | hard limit | clears after | Instant Readout | meaning | source |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cid in range(C.N_CODES):
        (text, sev, wd, flags, detector, trip, reset, delay, hard, clear, meaning, source, readout) = C.TABLE[cid]
        if detector == C.D_SOC_LOW and reset:
            reset_text = "level + " + setting_text(reset)
        else:
            reset_text = _cell(reset)
        if detector == C.D_NONE:
            clear_text = "–"
        elif clear == "delay":
            clear_text = "its delay"
        elif clear:
            clear_text = setting_text(clear)
        else:
            clear_text = "at once"
        lines.append("| %s |" % " | ".join([
            text, C.SEVERITY_NAMES[sev], "the port that tripped" if flags & C.F_PER_PORT else ports_text(wd),
            "on" if flags & C.F_PRE_ALARM else "–",
            "yes" if flags & C.F_LEAD else "–",
            "yes" if flags & C.F_RECHARGE else "–",
            det.get(detector, "?"), _cell(trip), reset_text, _cell(delay) if delay else ("at once" if detector else "–"),
            _cell(hard), clear_text, _readout_text(cid, readout), meaning, source]))
    lines += [
        "",
        "Columns:",
        "",
        "- **withdraws**: the ports the code takes away while active (%s)." % ", ".join(C.PORT_NAMES),
        "- **Instant Readout**: how the code is broadcast in the advertisement (record 0x0A,"
        " docs/ble.md): errors as their number in the error byte (the first active one);"
        " warnings and alarms as one alarm-reason value of the decoders' enum (the first active"
        " alarm's, else the first warning's: one at a time, since decoders reject combined bits).",
        "- **pre-alarm**: the code drives the pre-alarm output while active.",
        "- **lead**: the code waits until the pre-alarm has been on for `pre_alarm_lead_s`"
        " (behaviour §1: at least 30 s), unless its reading is decided at once (the first"
        " reading, the first reading after A-B05, the cells of a battery the previous reading"
        " lacked).",
        "- **latched until recharge**: once active, the code clears only after a net"
        " `recharge_pct` of the capacity has been charged in since the withdrawal and its reset"
        " holds, or after a user action: remote or soft switch off and on again,"
        " `diag.reset_alarms()`.",
        "- **trip / reset / delay / hard limit / clears after**: the qualifier"
        " (`firmware/qualifier.py`). Past the trip a counter counts up to the delay; below it"
        " the counter counts down at 1/%d of that rate, so a signal past its trip more than"
        " 1/%d of the time still trips. One reading past the hard limit trips at once. An"
        " active code clears once its reset condition has held for the clear time."
        % (Q.DOWN_RATIO, Q.DOWN_RATIO + 1),
        "",
        "Withdrawals that are not faults carry a reason instead of a code:",
        "",
        "| reason | withdraws | when |",
        "| --- | --- | --- |",
        "| `%s` | %s | from power-up until the first valid bank reading |" % (C.REASON_STARTUP, ports_text(C.ALL)),
        "| `%s` | %s; with `remote_function` = `all_off` %s |"
        " remote terminal or soft switch OFF |" % (
            C.REASON_REMOTE_OFF, ports_text(C.ALL & ~(C.ATC | C.ATD)), ports_text(C.ALL)),
        "",
        "Status LED (smallBMS NG style, behaviour §8): off = no code, blinking (0.5 s on,",
        "0.5 s off) = warnings only, on = an alarm or error.",
        "",
    ]
    return "\n".join(lines)


def settings_md():
    lines = [
        "# Settings",
        "",
        "Generated from `firmware/settings.py` by `python -m host_tools.docgen`; do not edit.",
        "Every threshold, reset value and delay the firmware uses is one of these. A",
        "change is checked for type, range and the order rules below before it is",
        "stored; a rejected change raises `SettingsError` and keeps the old value.",
        "",
        "| name | unit | default | range | source |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, unit, default, lo, hi, source in S.SCHEMA:
        rng = " / ".join(lo) if unit == S.CHOICE else "%s … %s" % (lo, hi)
        lines.append("| `%s` | %s | %s | %s | %s |" % (name, unit, default, rng, source))
    lines += ["", "Order rules (each must hold after every change):", ""]
    for low, high, why in S._ORDER:
        lines.append("- `%s` < `%s`: %s" % (low, high, why))
    lines.append("")
    return "\n".join(lines)


def _wiring_md():
    from host_tools import wiring
    return wiring.wiring_md()


OUTPUTS = {"codes.md": codes_md, "settings.md": settings_md, "wiring.md": _wiring_md}


def main():
    for name, fn in OUTPUTS.items():
        path = os.path.join(host_tools.ROOT, "docs", name)
        with open(path, "w") as f:
            f.write(fn())
        print("wrote", os.path.relpath(path, host_tools.ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
