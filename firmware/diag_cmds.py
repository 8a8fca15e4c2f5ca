"""The REPL commands that change something, and the history, for people.
``diag`` calls them with the running BMS (``diag.set(...)``, ``diag.history()``);
each takes it as ``app``.

Every command prints one line saying what it did. A bad argument prints
``not changed: <why>`` and returns False; nothing is posted. Changes go through
the command inbox: the control tick applies them (within 100 ms) and saves
settings within 10 s (docs/persistence.md); the line says so. Allocates freely:
never called from the control loop.
"""
import inbox as I

_AT_TICK = "at the next tick"


def _post(app, cmd, line):
    try:
        app.inbox.post(cmd)
    except I.InboxFull as e:
        print("not changed: %s" % e)
        return False
    print(line)
    return True


def _unit(row):
    import settings as S
    return "" if row[1] in (S.CHOICE, "n", "id") else " " + {"degC": "°C", "d": "days"}.get(row[1], row[1])


def _near(name):
    # Settings whose name contains the given one (a typo's likely target).
    import settings as S
    key = str(name).lower()
    return [row[0] for row in S.SCHEMA if key and (key in row[0] or row[0] in key)]


def _unknown(name):
    near = _near(name)
    return "no setting %r%s (diag.get() lists them all)" % (
        name, (": did you mean %s?" % ", ".join(near[:3])) if near else "")


def get(app, name=None):
    """Print one setting with its unit and range, or all of them; an unknown
    name prints why (and close names) instead of raising. Returns the value."""
    import settings as S
    st = app.settings
    names = st.names() if name is None else [name]
    value = None
    for n in names:
        try:
            row = S.schema_row(n)
        except S.SettingsError:
            print(_unknown(n))
            return None
        rng = "/".join(row[3]) if row[1] == S.CHOICE else "%s..%s%s" % (row[3], row[4], _unit(row))
        import models
        why = models.setting_applies(app.profile, n)
        value = st.get(n)
        print("%-26s %-12s (%s)%s" % (n, value, rng, "  - not on this model" if why else ""))
    return value


def set(app, name, value):
    """Change one setting; prints ``name: old -> new unit`` and when it applies,
    or ``not changed: <why>`` (unknown name, type, range, the order rules, a
    setting this model lacks). Returns True when accepted."""
    if not isinstance(name, str):
        print("not changed: " + _unknown(name))
        return False
    return set_many(app, {name: value})


def set_many(app, values):
    """Change several settings as one change, all or nothing (``bmsctl settings
    import``). Prints each change, or ``not changed: <why>``. Returns True when accepted."""
    import settings as S
    if not isinstance(values, dict) or not values:
        print("not changed: give a dict of setting: value")
        return False
    for n in values:
        if not isinstance(n, str) or n not in app.settings.names():
            print("not changed: " + _unknown(n))
            return False
    try:
        # Checked as the tick will apply it: after the changes still waiting.
        checked = app.settings.check_update(values, app.inbox.pending_settings(S.defaults()))
    except S.SettingsError as e:
        print("not changed: %s" % e)
        return False
    new = dict((n, checked[n]) for n in values)
    parts = []
    for n in values:
        row = S.schema_row(n)
        parts.append("%s: %s -> %s%s" % (n, app.settings.get(n), new[n], _unit(row)))
    after = "takes effect after a reset" if "model" in new else _AT_TICK
    return _post(app, (I.SETTINGS, new), "%s (%s; saved to flash within 10 s)" % ("; ".join(parts), after))


def factory_reset(app):
    """Every setting back to its default, saved at once; clears E-B31."""
    return _post(app, (I.FACTORY_RESET,), "every setting back to its default, %s, saved at once" % _AT_TICK)


def set_soc(app, pct):
    """Manual "set SoC" in % (behaviour §5): 0..100; anything else changes nothing."""
    if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
        print("not changed: SoC must be a number from 0 to 100, not %r" % (pct,))
        return False
    return _post(app, (I.SET_SOC, pct), "SoC set to %s %% %s" % (pct, _AT_TICK))


def synchronise(app):
    """Manual "synchronise to 100 %" (behaviour §5)."""
    return _post(app, (I.SYNCHRONISE,), "battery monitor synchronised to 100 %% %s" % _AT_TICK)


def soft_switch(app, on):
    """Switch the BMS on (True) or off (False) like the remote terminal
    (behaviour §2); anything but True or False changes nothing. Off and on again
    is a user action: it releases latched under-voltage withdrawals."""
    if on is not True and on is not False:
        print("not changed: soft_switch takes True or False, not %r" % (on,))
        return False
    what = "on" if on else ("off: %s" % ("every output off (remote_function all_off)"
                                         if app.settings.get("remote_function") == "all_off"
                                         else "the alternator and System+ ports open (remote_function ports_only)"))
    return _post(app, (I.SOFT_SWITCH, on), "soft switch %s, %s" % (what, _AT_TICK))


def reset_alarms(app):
    """Release the under-voltage withdrawals that wait for a recharge (judged
    afresh, delays and lead included) and a tripped or locked power port (A-A12)."""
    return _post(app, (I.RESET_ALARMS,), "alarms reset: latched withdrawals and locked ports released %s, "
                                              "the rules judge the cells afresh" % _AT_TICK)


def accept_bank(app):
    """Accept the batteries answering now as the bank, after removing one on purpose."""
    return _post(app, (I.ACCEPT_BANK,), "bank accepted as the %d batteries answering now, %s" % (
        app.status.batteries, _AT_TICK))


def clear_history(app):
    """Clear the history (extremes and totals)."""
    return _post(app, (I.CLEAR_HISTORY,), "history cleared %s" % _AT_TICK)


def _range(lo, hi, scale, fmt, unit):
    if lo is None or hi is None:
        return "not seen yet"
    return (fmt + " .. " + fmt + " %s") % (lo / scale, hi / scale, unit)


def _ago(s):
    if s < 0:
        return "never"
    if s < 3600:
        return "%d min ago" % (s // 60)
    if s < 2 * 86400:
        return "%d h %02d min ago" % (s // 3600, (s % 3600) // 60)
    return "%d days %d h ago" % (s // 86400, (s % 86400) // 3600)


def _wh(wh):
    return ("%.2f kWh" % (wh / 1000)) if abs(wh) >= 1000 else ("%d Wh" % wh)


def history_lines(app):
    """The history (behaviour §5) in Ah, Wh, °C and times, one line each."""
    h = app.history
    return [
        "history (since it was last cleared):",
        "  deepest discharge        %.1f Ah" % (h.deepest_discharge_mah / 1000),
        "  drawn in total           %.1f Ah" % (h.drawn_mah / 1000),
        "  discharged energy        %s" % _wh(h.discharged_wh),
        "  charged energy           %s" % _wh(h.charged_wh),
        "  synchronisations         %d" % h.synchronisations,
        "  charge cycles            %d" % h.cycles,
        "  last full charge         %s" % _ago(h.since_full_s),
        "  bank voltage             %s" % _range(h.min_bank_mv, h.max_bank_mv, 1000, "%.2f", "V"),
        "  cell voltage             %s" % _range(h.min_cell_mv, h.max_cell_mv, 1000, "%.3f", "V"),
        "  battery temperature      %s" % _range(h.min_temp_dc, h.max_temp_dc, 10, "%.1f", "°C"),
    ]


def history(app):
    """Print the history: extremes and totals (behaviour §5)."""
    for line in history_lines(app):
        print(line)
