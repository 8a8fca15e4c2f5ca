"""REPL diagnostics: ``import diag; diag.status()`` at the board's prompt.

Prints the bank, each output with the reason it is on or off, the active codes
and the link counters. ``main`` attaches the running controller; tests and the
simulator pass one explicitly. Allocates freely: never called from the loop.
"""
from bank import MAX_CELLS, MAX_TEMPS, TOPOLOGY_NAMES
import codes as C
import link as L
from protection import REMOTE_NAMES

_app = None


def attach(app):
    """Remember the running ``bms.Bms`` for the other calls."""
    global _app
    _app = app


def _get(app):
    app = app or _app
    if app is None:
        raise RuntimeError("no BMS attached: main.py has not started the control loop")
    return app


def _v(mv):
    return "%d.%03d" % (mv // 1000, mv % 1000)


def _c(dc):
    sign = "-" if dc < 0 else ""
    dc = -dc if dc < 0 else dc
    return "%s%d.%d" % (sign, dc // 10, dc % 10)


def _a(ma):
    sign = "-" if ma < 0 else ""
    ma = -ma if ma < 0 else ma
    return "%s%d.%03d" % (sign, ma // 1000, ma % 1000)


def bank_lines(app=None):
    app = _get(app)
    link = app.link
    b = link.bank
    if not link.has_reading:
        return ["bank: no reading yet"]
    if b.count == 0:
        return ["bank: the ring answered with no battery"]
    out = ["bank: %d V system, %d batteries (%d series x %d parallel), %d cells, topology %s" % (
        b.system_v, b.count, b.series, b.parallel, b.total_cells, topology_name(b))]
    out.append("  voltage %s V  current %s A  cells %s..%s V  temperature %s..%s C" % (
        _v(b.bank_mv), _a(b.bank_current_ma), _v(b.cell_min_mv), _v(b.cell_max_mv),
        _c(b.temp_min_dc), _c(b.temp_max_dc)))
    for i in range(b.count):
        cells = " ".join(_v(b.cell_mv[i * MAX_CELLS + k]) for k in range(b.n_cells[i]))
        temps = " ".join(_c(b.temp_dc[i * MAX_TEMPS + k]) for k in range(b.n_temps[i]))
        out.append("  #%d %s %dAh fw %d.%02d pos %d: %s V %s A  cells [%s]  T [%s]" % (
            i + 1, b.serial_str(i), b.capacity_ah[i], b.fw_version[i] >> 8, b.fw_version[i] & 0xFF,
            b.series_pos[i], _v(b.voltage_mv[i]), _a(b.current_ma[i]), cells, temps))
    return out


def monitor_lines(app=None):
    app = _get(app)
    m = app.monitor
    import balancer
    bal = balancer.NAMES[app.balancer.status]
    if m.soc_pct10 < 0:
        return ["battery monitor: SoC unknown (not synchronised yet: charge to full, or set it)  balancer %s" % bal]
    ttg = "-" if m.ttg_min < 0 else "%d min" % m.ttg_min
    return ["battery monitor: SoC %d.%d %%  consumed %s Ah  time-to-go %s  balancer %s" % (
        m.soc_pct10 // 10, m.soc_pct10 % 10, _a(m.consumed_mah), ttg, bal)]


def topology_name(b):
    return TOPOLOGY_NAMES[b.topology]


def output_lines(app=None):
    app = _get(app)
    p = app.protection
    atc_why = p.reasons(C.WITHDRAW_ATC)
    atd_why = p.reasons(C.WITHDRAW_ATD)
    rows = (
        ("load disconnect (ATD)", p.atd, ", ".join(atd_why)),
        ("charge disconnect (ATC)", p.atc, ", ".join(atc_why)),
        ("pre-alarm", app.pre_alarm_out, ", ".join(c for c in p.active_codes() if C.drives_pre_alarm(C.code_id(c)))),
        ("alternator port", p.alternator_port, "" if p.remote_on else "remote off"),
        ("System+ charge", p.system_charge, "" if p.remote_on else "remote off"),
        ("System+ discharge", p.system_discharge, "" if p.remote_on else "remote off"),
    )
    out = []
    for name, on, why in rows:
        out.append("  %-24s %-4s %s" % (name, "ON" if on else "off", ("(" + why + ")") if why else ""))
    out.append("  remote: terminal %s (%s), soft switch %s" % (
        "on" if p.remote_terminal_on else "off", REMOTE_NAMES[p.remote_state], "on" if p.soft_on else "off"))
    return out


def code_lines(app=None):
    app = _get(app)
    act = app.protection.active_codes()
    if not act:
        return ["codes: none"]
    out = ["codes:"]
    for t in act:
        cid = C.code_id(t)
        out.append("  %s %-7s %s" % (t, C.SEVERITY_NAMES[C.severity(cid)], C.meaning(cid)))
    return out


def link_lines(app=None):
    link = _get(app).link
    errs = ", ".join("%s %d" % (L.ERROR_NAMES[i], link.errors[i])
                     for i in range(len(L.ERROR_NAMES)) if link.errors[i])
    return ["link: %d frames ok, rejected: %s" % (link.frames_ok, errs or "none")]


def loop_lines(app=None):
    app = _get(app)
    if app.stopped:
        return ["control loop STOPPED on an error: every output is off (diag.crash_log() shows why)"]
    return ["control loop running: %d ticks" % app.ticks]


def status(app=None):
    """Print the loop state, the bank, outputs with reasons, active codes and link counters."""
    for part in (loop_lines, bank_lines, monitor_lines, output_lines, code_lines, link_lines):
        for line in part(app):
            print(line)


def crash_log(path=None):
    """Print the crash log (tracebacks of past control-loop crashes), if any."""
    import crashlog
    text = crashlog.read(path or crashlog.DEFAULT_PATH)
    print(text if text else "no crash logged")


def set_soc(pct, app=None):
    """Manual "set SoC" in % (behaviour §5); ValueError outside 0..100."""
    _get(app).monitor.set_soc(pct)


def synchronise(app=None):
    """Manual "synchronise to 100 %" (behaviour §5)."""
    _get(app).synchronise()


def get(name=None, app=None):
    """Print one setting with its unit and range, or all of them."""
    import settings as S
    st = _get(app).settings
    for n in ([name] if name else st.names()):
        row = S.schema_row(n)
        rng = "/".join(row[3]) if row[1] == S.CHOICE else "%s..%s %s" % (row[3], row[4], row[1])
        print("%-22s %-12s (%s)" % (n, st.get(n), rng))


def set(name, value, app=None):
    """Change a setting; a bad name or value prints why and changes nothing.

    Saved to flash within 10 s (docs/persistence.md)."""
    import settings as S
    try:
        v = _get(app).settings.set(name, value)
    except S.SettingsError as e:
        print("not changed: %s" % e)
        return False
    print("%s = %r" % (name, v))
    return True


def factory_reset(app=None):
    """Every setting back to its default, saved at once; clears E-B31."""
    _get(app).factory_reset()
    print("settings reset to defaults")


def calibrate_current_zero(app=None):
    """With no current flowing, take the shunt's present reading as its zero:
    stores ``current_zero_offset_a`` (saved with the settings). Boards without a
    shunt say so and change nothing."""
    app = _get(app)
    if not app.hw.has_shunt:
        print("this board has no shunt: the current comes from the batteries")
        return None
    import settings as S
    raw_ma = app.hw.shunt_ma()
    try:
        app.settings.set("current_zero_offset_a", raw_ma / 1000)
    except S.SettingsError as e:
        print("not calibrated (is current flowing?): %s" % e)
        return None
    print("current zero offset set to %s A" % _a(raw_ma))
    return raw_ma


def history(app=None):
    """Print the history: extremes and totals (behaviour §5)."""
    h = _get(app).history
    d = h.as_dict()
    for name in sorted(d):
        print("%-22s %s" % (name, d[name]))


def soft_switch(on, app=None):
    """Switch the BMS on or off like the remote terminal (behaviour §2)."""
    _get(app).protection.set_soft_switch(on)


def accept_bank(app=None):
    """Accept the present battery count after removing a battery on purpose."""
    _get(app).protection.accept_bank()
