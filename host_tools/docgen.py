"""Write docs/codes.md and docs/settings.md from the firmware's own tables.

``python -m host_tools.docgen`` rewrites them; ``tests/test_docs.py`` fails when
they differ from what this would write, so the docs cannot drift from the code.
"""
import os
import sys

import host_tools

host_tools.use_firmware()
import codes as C  # noqa: E402
import settings as S  # noqa: E402

WITHDRAW_TEXT = {0: "nothing", C.WITHDRAW_ATC: "ATC", C.WITHDRAW_ATD: "ATD",
                 C.WITHDRAW_ATC | C.WITHDRAW_ATD: "ATC and ATD"}


def codes_md():
    lines = [
        "# Warning, alarm and error codes",
        "",
        "Generated from `firmware/codes.py` by `python -m host_tools.docgen`; do not edit.",
        "This one table drives protection, the pre-alarm output, the status LED, the",
        "REPL diagnostics and the trace. Why each project-chosen row is as it is:",
        "docs/protection.md.",
        "",
        "| code | severity | withdraws | pre-alarm output | meaning | source |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for cid in range(C.N_CODES):
        text, sev, wd, pre, meaning, source = C.TABLE[cid]
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            text, C.SEVERITY_NAMES[sev], WITHDRAW_TEXT[wd], "on" if pre else "–", meaning, source))
    lines += [
        "",
        "Withdrawals that are not faults carry a reason instead of a code:",
        "",
        "| reason | withdraws | when |",
        "| --- | --- | --- |",
        "| `%s` | ATC and ATD | from power-up until the first valid bank reading |" % C.REASON_STARTUP,
        "| `%s` | ATC and ATD | remote terminal or soft switch OFF with remote_function = all_off |"
        % C.REASON_REMOTE_OFF,
        "",
        "Status LED (smallBMS NG style, behaviour §8): off = no code, blinking (0.5 s on,",
        "0.5 s off) = a warning, on = an alarm or error.",
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


OUTPUTS = {"codes.md": codes_md, "settings.md": settings_md}


def main():
    for name, fn in OUTPUTS.items():
        path = os.path.join(host_tools.ROOT, "docs", name)
        with open(path, "w") as f:
            f.write(fn())
        print("wrote", os.path.relpath(path, host_tools.ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
