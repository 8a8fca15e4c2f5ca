"""Number formats, and the output and power-port sections of the REPL diagnostics
(``diag``): as lines, and printed piece by piece for ``diag.status()``.
``app`` is the running ``bms.Bms``. Allocates freely: never called from the loop.
"""
import alternator as AL
import codes as C
import indicators as IN
import system_port as SP
from diag_bank import print_deci, print_milli
from frame import ERROR_NAMES
from inputs import REMOTE_NAMES

PORT_LABELS = ("charge disconnect (ATC)", "load disconnect (ATD)", "alternator port",
               "System+ charge", "System+ discharge")


def fmt_v(mv):
    return "%d.%03d" % (mv // 1000, mv % 1000)


def fmt_c(dc):
    sign = "-" if dc < 0 else ""
    dc = -dc if dc < 0 else dc
    return "%s%d.%d" % (sign, dc // 10, dc % 10)


def fmt_a(ma):
    sign = "-" if ma < 0 else ""
    ma = -ma if ma < 0 else ma
    return "%s%d.%03d" % (sign, ma // 1000, ma % 1000)


def _opt_v(mv):
    return "-" if mv is None else fmt_v(mv)


def _opt_c(dc):
    if dc is None:
        return "-"
    return {-30000: "open", -30001: "short"}.get(dc, fmt_c(dc))


def power_lines(app):
    """The power ports (Smart BMS 12/200; behaviour §3, §4, §8): voltages, the
    alternator current against the fuse's limit and the limit in force with its
    reason, the gate duty, System+ gates, temperatures, indicators."""
    st = app.status
    out = []
    if app.alternator is not None:
        out.append("power: lithium %s V  alternator/starter %s V  System+ %s V" % (
            _opt_v(st.lithium_mv), _opt_v(st.alternator_mv), _opt_v(st.system_mv)))
        out.append("  alternator %s: %s A (%d %% of the fuse's limit), limit %s A (%s), duty %d %%" % (
            AL.STATE_NAMES[st.alternator_state], fmt_a(st.alternator_ma), st.alternator_pct,
            fmt_a(st.alternator_limit_ma), AL.LIMIT_NAMES[st.alternator_limit_why], st.alternator_duty * 100 // 65535))
    if app.system is not None:
        line = "  System+ %s: charge %s, discharge %s" % (
            SP.STATE_NAMES[st.system_state], "closed" if st.system_charge else "open",
            "closed" if st.system_discharge else "open")
        if st.retry_in_ms:
            line += ", retry in %d.%d s" % (st.retry_in_ms // 1000, st.retry_in_ms % 1000 // 100)
        if st.system_state == SP.SYS_LOCKED:
            line += " (diag.reset_alarms() or remote off/on releases it)"
        out.append(line + "; A-A12 trips since boot %d" % st.port_trips)
    if app.alternator is not None or st.bms_temp_dc is not None:
        out.append("  temperatures: BMS %s C, alternator %s C" % (_opt_c(st.bms_temp_dc), _opt_c(st.alternator_temp_dc)))
    lit = [IN.LED_NAMES[i] for i in range(len(IN.LED_NAMES)) if (st.led_mask >> i) & 1]
    if lit:
        out.append("  LEDs: " + "  ".join("%s %s" % (n, "ON" if (st.leds >> IN.LED_NAMES.index(n)) & 1 else "off")
                                        for n in lit))
    return out


def _print_opt_v(mv, end):
    if mv is None:
        print("-", end=end)
    else:
        print_milli(mv, end)


def _print_opt_c(dc, end):
    if dc is None:
        print("-", end=end)
    elif dc == -30000:
        print("open", end=end)
    elif dc == -30001:
        print("short", end=end)
    else:
        print_deci(dc, end)


def print_power(app):
    """``power_lines`` printed piece by piece: ints and constant strings only, so
    ``diag.status()`` makes no garbage here (issue 10: 2 KB of it as lines)."""
    st = app.status
    if app.alternator is not None:
        print("power: lithium ", end="")
        _print_opt_v(st.lithium_mv, " V  alternator/starter ")
        _print_opt_v(st.alternator_mv, " V  System+ ")
        _print_opt_v(st.system_mv, " V\n")
        print("  alternator ", end=AL.STATE_NAMES[st.alternator_state])
        print(": ", end="")
        print_milli(st.alternator_ma, " A (")
        print(st.alternator_pct, end=" % of the fuse's limit), limit ")
        print_milli(st.alternator_limit_ma, " A (")
        print(AL.LIMIT_NAMES[st.alternator_limit_why], end="), duty ")
        print(st.alternator_duty * 100 // 65535, end=" %\n")
    if app.system is not None:
        print("  System+ ", end=SP.STATE_NAMES[st.system_state])
        print(": charge ", end="closed" if st.system_charge else "open")
        print(", discharge ", end="closed" if st.system_discharge else "open")
        if st.retry_in_ms:
            print(", retry in ", end="")
            print(st.retry_in_ms // 1000, end=".")
            print(st.retry_in_ms % 1000 // 100, end=" s")
        if st.system_state == SP.SYS_LOCKED:
            print(" (diag.reset_alarms() or remote off/on releases it)", end="")
        print("; A-A12 trips since boot ", end="")
        print(st.port_trips)
    if app.alternator is not None or st.bms_temp_dc is not None:
        print("  temperatures: BMS ", end="")
        _print_opt_c(st.bms_temp_dc, " C, alternator ")
        _print_opt_c(st.alternator_temp_dc, " C\n")
    first = True
    for i in range(len(IN.LED_NAMES)):
        if (st.led_mask >> i) & 1:
            print("  LEDs: " if first else "  ", end=IN.LED_NAMES[i])
            print(" ", end="ON" if (st.leds >> i) & 1 else "off")
            first = False
    if not first:
        print()


def _print_port(label, on, names):
    # One line of output_lines, printed piece by piece ("  %-24s %-4s %s").
    print("  ", end=label)
    for _ in range(24 - len(label)):
        print(" ", end="")
    print(" ", end="")
    print("ON  " if on else "off ", end=" ")
    if names:
        print("(", end="")
        for k in range(len(names)):
            print(names[k], end=")\n" if k == len(names) - 1 else ", ")
    else:
        print()


def pre_alarm_line(app):
    """The pre-alarm's logical state (not the phase of its blink), how the output
    shows it (continuous, blinking, or no such output on this model), and the
    codes that raise it."""
    st = app.status
    pre = ", ".join(t for t in st.active_codes() if C.drives_pre_alarm(C.code_id(t)))
    how = ""
    n = st.pre_alarm_blink_s
    if n < 0:
        how = "no pre-alarm output on this model "
    elif st.pre_alarm and n:
        how = "blinking %s s on / %s s off " % (n, n)
    return "  %-24s %-4s %s%s" % ("pre-alarm", "ON" if st.pre_alarm else "off", how, ("(" + pre + ")") if pre else "")


def print_outputs(app):
    """``output_lines`` printed piece by piece (no line strings: issue 10)."""
    st = app.status
    for port in (C.PORT_ATD, C.PORT_ATC, C.PORT_ALT, C.PORT_SYS_CHG, C.PORT_SYS_DIS):
        _print_port(PORT_LABELS[port], st.allowed[port], st.reason_list(port))
        if port == C.PORT_ATC:
            print(pre_alarm_line(app))     # its logical state and how the output shows it
    print("  remote: terminal ", end="on" if st.remote_terminal_on else "off")
    print(" (", end=REMOTE_NAMES[st.remote_state])
    print("), soft switch ", end="")
    print("on" if st.soft_on else "off")


def frozen_line(app):
    """The frozen cell reading behind E-B11 (``stuck``), or None."""
    st = app.status
    slot = st.stuck_cell
    if slot < 0 or st.bank is None:
        return None
    from bank import MAX_CELLS
    return "  frozen reading: battery %d cell %d stuck at %d mV while the others moved (a failed sensor)" % (
        slot // MAX_CELLS + 1, slot % MAX_CELLS + 1, st.bank.cell_mv[slot])


def print_codes(app):
    """``diag.code_lines`` printed piece by piece."""
    act = app.status.active_codes()
    if not act:
        print("codes: none")
        return
    print("codes:")
    for t in act:
        cid = C.code_id(t)
        sev = C.SEVERITY_NAMES[C.severity(cid)]
        print("  ", end=t)
        print(" ", end=sev)
        for _ in range(7 - len(sev)):
            print(" ", end="")
        print(" ", end="")
        print(C.meaning(cid))
    line = frozen_line(app)
    if line:
        print(line)


def print_link(st):
    """``diag.link_lines`` printed piece by piece."""
    print("link: ", end="")
    print(st.link_frames_ok, end=" frames ok, ")
    print(st.link_answered_pct, end=" % of recent seconds answered, rejected: ")
    first = True
    for i in range(len(ERROR_NAMES)):
        if st.link_errors[i]:
            print("" if first else ", ", end=ERROR_NAMES[i])
            print(" ", end="")
            print(st.link_errors[i], end="")
            first = False
    print("none" if first else "")
