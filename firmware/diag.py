"""REPL diagnostics: ``import diag; diag.status()`` at the board's prompt.

Prints the bank, each port with the reasons it is withdrawn, the active codes
and the link counters, all read from the status record (``status.Status``).
Changes go through the command inbox (``inbox``): the control tick applies them,
so nothing here writes the core's state from the REPL's thread. The running
controller is the one ``main`` started (``bms.running``; diag is not imported at
boot) or one given to ``attach``; tests and the simulator pass one explicitly.
Allocates freely: never called from the loop.
"""
from bank import MAX_CELLS, MAX_TEMPS, TOPOLOGY_NAMES
import codes as C
import inbox as I
import link as L
from inputs import REMOTE_NAMES, SOURCE_NAMES
import indicators as IN
import diag_ble as DB
import diag_power as DP
from diag_power import fmt_a as _a, fmt_c as _c, fmt_v as _v
import diag_cmds as CMD

_app = None


def attach(app):
    """Remember the running ``bms.Bms`` for the other calls."""
    global _app
    _app = app


def _get(app):
    if app is None:
        import bms
        app = _app or bms.running
    if app is None:
        raise RuntimeError("no BMS attached: main.py has not started the control loop")
    return app


def bank_lines(app=None, batteries=True):
    """The bank's lines; with ``batteries`` False, without the per-battery ones
    (``diag_bank.print_battery`` prints those without building strings)."""
    st = _get(app).status
    b = st.bank
    if st.batteries == 0 and st.startup:
        return ["bank: no reading yet"]
    if b is None:
        return ["bank: the ring answered with no battery"]
    out = ["bank: %d V system, %d of %d batteries answered (%d series x %d parallel), %d cells, topology %s" % (
        b.system_v, b.count, st.expected_batteries, b.series, b.parallel, b.total_cells, topology_name(b))]
    out.append("  voltage %s V  current %s A (%s)  cells %s..%s V  temperature %s..%s C  reading %d.%d s old" % (
        _v(b.bank_mv), _a(st.current_ma), SOURCE_NAMES[st.current_source], _v(b.cell_min_mv), _v(b.cell_max_mv),
        _c(b.temp_min_dc), _c(b.temp_max_dc), st.reading_age_ms // 1000, st.reading_age_ms % 1000 // 100))
    for i in range(b.count if batteries else 0):
        cells = " ".join(_v(b.cell_mv[i * MAX_CELLS + k]) for k in range(b.n_cells[i]))
        temps = " ".join(_c(b.temp_dc[i * MAX_TEMPS + k]) for k in range(b.n_temps[i]))
        out.append("  #%d %s %dAh fw %d.%02d pos %d: %s V %s A  cells [%s]  T [%s]%s" % (
            i + 1, b.serial_str(i), b.capacity_ah[i], b.fw_version[i] >> 8, b.fw_version[i] & 0xFF,
            b.series_pos[i], _v(b.voltage_mv[i]), _a(b.current_ma[i]), cells, temps,
            "  FAULT" if b.flags[i] & 2 else ""))
    return out


def monitor_lines(app=None):
    st = _get(app).status
    import balancer
    bal = balancer.NAMES[st.balancer]
    if st.soc_pct10 < 0:
        return ["battery monitor: SoC unknown (not synchronised yet: charge to full, or set it)  balancer %s" % bal]
    ttg = "-" if st.ttg_min < 0 else "%d min" % st.ttg_min
    return ["battery monitor: SoC %d.%d %%  consumed %s Ah  time-to-go %s  balancer %s" % (
        st.soc_pct10 // 10, st.soc_pct10 % 10, _a(st.consumed_mah), ttg, bal)]


def topology_name(b):
    return TOPOLOGY_NAMES[b.topology]


PORT_LABELS = DP.PORT_LABELS


def pre_alarm_line(app=None):
    """The pre-alarm's logical state, how the output shows it, the codes raising it."""
    return DP.pre_alarm_line(_get(app))


def output_lines(app=None):
    st = _get(app).status
    out = []
    for port in (C.PORT_ATD, C.PORT_ATC, C.PORT_ALT, C.PORT_SYS_CHG, C.PORT_SYS_DIS):
        why = ", ".join(st.reason_list(port))
        out.append("  %-24s %-4s %s" % (PORT_LABELS[port], "ON" if st.allowed[port] else "off",
                                        ("(" + why + ")") if why else ""))
    out.insert(2, pre_alarm_line(app))
    out.append("  remote: terminal %s (%s), soft switch %s" % (
        "on" if st.remote_terminal_on else "off", REMOTE_NAMES[st.remote_state], "on" if st.soft_on else "off"))
    return out


def power_lines(app=None):
    """The power ports: voltages, alternator current and limit, System+, temperatures, LEDs."""
    return DP.power_lines(_get(app))


def code_lines(app=None):
    act = _get(app).status.active_codes()
    if not act:
        return ["codes: none"]
    out = ["codes:"]
    for t in act:
        cid = C.code_id(t)
        out.append("  %s %-7s %s" % (t, C.SEVERITY_NAMES[C.severity(cid)], C.meaning(cid)))
    line = DP.frozen_line(_get(app))
    if line:
        out.append(line)
    return out


def link_lines(app=None):
    st = _get(app).status
    errs = ", ".join("%s %d" % (L.ERROR_NAMES[i], st.link_errors[i])
                     for i in range(len(L.ERROR_NAMES)) if st.link_errors[i])
    return ["link: %d frames ok, %d %% of recent seconds answered, rejected: %s" % (
        st.link_frames_ok, st.link_answered_pct, errs or "none")]


def loop_lines(app=None):
    app = _get(app)
    st = app.status
    if st.stopped:
        return ["control loop STOPPED on an error: every output is off (diag.crash_log() shows why)"]
    line = "control loop running: %d ticks" % st.ticks
    if app.missed_ticks:
        line += ", %d periods missed (a tick overran its %d ms)" % (app.missed_ticks, 100)
    if app.restarts:
        line += "; restarted %d times after a crash (diag.crash_log())" % app.restarts
    if app.inbox.last_error:
        line += "; last command failed: %s" % app.inbox.last_error
    return [line]


def status(app=None):
    """Print the loop state, the bank, outputs with reasons, the power ports,
    active codes, link counters and Bluetooth."""
    app = _get(app)
    # The sections with the most text are printed piece by piece (no line
    # strings); the others line by line, so one section's strings are garbage
    # before the next is made.
    _print(loop_lines(app))
    _print(bank_lines(app, False))
    if app.status.bank is not None:
        import diag_bank
        for i in range(app.status.bank.count):
            diag_bank.print_battery(app.status.bank, i)
    _print(monitor_lines(app))
    DP.print_outputs(app)
    DP.print_power(app)
    DP.print_codes(app)
    DP.print_link(app.status)
    _print(ble_lines(app))


def _print(lines):
    for line in lines:
        print(line)


def ble_lines(app=None):
    return DB.ble_lines(_get(app))


def ble(app=None):
    """Print the Bluetooth state and the advertisement key to enter in the decoders (docs/ble.md)."""
    DB.ble(_get(app))


def set_pin(pin, app=None):
    """Set the pairing PIN: 6 digits as a str ("123456"); applied at the next tick and saved."""
    return DB.set_pin(_get(app), pin)


def new_advert_key(app=None):
    """A new advertisement key: enter it again in every decoder."""
    return DB.new_advert_key(_get(app))


def forget_bonds(app=None):
    """Forget every paired phone: each must pair again with the PIN."""
    return DB.forget_bonds(_get(app))


def crash_log(path=None):
    """Print the crash log (tracebacks of past control-loop crashes), if any."""
    import crashlog
    text = crashlog.read(path or crashlog.DEFAULT_PATH)
    print(text if text else "no crash logged")


# The commands that change something (each prints what it did, or "not changed:
# <why>" and returns False), and the history: diag_cmds, with the running BMS.

def get(name=None, app=None):
    """Print one setting with its unit and range, or all of them."""
    return CMD.get(_get(app), name)


def set(name, value, app=None):
    """Change one setting (checked, applied at the next tick, saved within 10 s)."""
    return CMD.set(_get(app), name, value)


def set_many(values, app=None):
    """Change several settings at once, all or nothing ({name: value})."""
    return CMD.set_many(_get(app), values)


def factory_reset(app=None):
    """Every setting back to its default, saved at once; clears E-B31."""
    return CMD.factory_reset(_get(app))


def set_soc(pct, app=None):
    """Manual "set SoC" in % (behaviour §5)."""
    return CMD.set_soc(_get(app), pct)


def synchronise(app=None):
    """Manual "synchronise to 100 %" (behaviour §5)."""
    return CMD.synchronise(_get(app))


def soft_switch(on, app=None):
    """Switch the BMS on (True) or off (False) like the remote terminal (behaviour §2)."""
    return CMD.soft_switch(_get(app), on)


def reset_alarms(app=None):
    """Release latched under-voltage withdrawals and a locked power port (A-A12)."""
    return CMD.reset_alarms(_get(app))


def accept_bank(app=None):
    """Accept the batteries answering now as the bank (after removing one on purpose)."""
    return CMD.accept_bank(_get(app))


def clear_history(app=None):
    """Clear the history (extremes and totals)."""
    return CMD.clear_history(_get(app))


def history(app=None):
    """Print the history in Ah, Wh, °C and times (behaviour §5)."""
    CMD.history(_get(app))


def history_lines(app=None):
    return CMD.history_lines(_get(app))


def calibrate_current_zero(app=None):
    """With no current flowing, take the shunt's present reading as its zero:
    stores ``current_zero_offset_a`` (saved with the settings). Boards without a
    shunt say so and change nothing."""
    app = _get(app)
    if not app.hw.has_shunt:
        print("this board has no shunt: the current comes from the batteries")
        return None
    raw_ma = app.hw.shunt_ma()
    if set("current_zero_offset_a", raw_ma / 1000, app):
        return raw_ma
    print("not calibrated: is current flowing?")
    return None
