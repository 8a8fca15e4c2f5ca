"""Number formats and the power-port lines of the REPL diagnostics (``diag``).
``app`` is the running ``bms.Bms``. Allocates freely: never called from the loop.
"""
import alternator as AL
import indicators as IN
import system_port as SP


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
