"""Scenario files: what the simulated bank does and what must happen.

A scenario is a TOML file (format in docs/scenarios.md): ``[bank]`` builds the
bank, ``[settings]`` overrides firmware settings, ``[[step]]`` entries run in
order (each waits for a time or an event, then changes loads, chargers,
temperature, remote input, faults or settings), ``[[expect]]`` entries are checked
against the trace at the end.
"""
import tomllib

BANK_KEYS = {"series": int, "parallel": int, "cells": int, "capacity_ah": (int, float),
             "soc_pct": (int, float), "r_mohm": (int, float), "spread_pct": (int, float),
             "temps": int, "temperature_c": (int, float), "seed": int, "cell_offset_pct": (int, float),
             "current_gain_error_pct": (int, float), "current_offset_a": (int, float),
             "temp_spread_c": (int, float)}
STEP_KEYS = {"t_s", "wait_s", "until", "delay_s", "timeout_s", "load_a", "charge_a",
             "uncontrolled_a", "charge_v", "temperature_c", "remote", "soft_switch", "fault", "faults",
             "bit_error_rate", "battery", "batteries", "drop_rate", "answer_every_s", "settings", "note",
             "cell", "battery_flags", "battery_temperature_c", "cycle", "noise_mv", "set_soc_pct",
             "reset_alarms", "engine_rpm", "vehicle_load_a", "alternator_ambient_c", "bms_ambient_c",
             "bms_rth_k_per_w", "system_load_a", "system_charge_a", "system_short", "starter_soc_pct",
             "regulator_v"}
# [plant]: the alternator side and System+ (host_tools/sim/plant.py, docs/scenarios.md).
PLANT_KEYS = {"rated_a": (int, float), "regulator_v": (int, float), "alternator_ambient_c": (int, float),
              "starter_soc_pct": (int, float), "vehicle_load_a": (int, float), "engine_rpm": (int, float),
              "fuse": str, "fuse_error_pct": (int, float), "bms_ambient_c": (int, float),
              "bms_rth_k_per_w": (int, float), "system_cap_f": (int, float), "comparator_a": (int, float),
              "system_load_a": (int, float), "system_charge_a": (int, float), "adc_noise_mv": (int, float),
              "ideal_diode": bool}
REMOTE_STATES = ("loop", "open", "l_low", "h_high")
FAULTS = ("none", "unplug", "no_battery", "remove_battery", "bit_errors", "garbage", "stale", "drop",
          "intermittent")
CYCLE_KEYS = ("load_a", "charge_a", "uncontrolled_a", "temperature_c")
# Per-battery (and per-cell) step tables: required and optional keys.
ITEM_KEYS = {"cell": ({"battery", "cell"}, {"r_mohm", "soc_pct"}),
             "battery_flags": ({"battery", "flags"}, set()),
             "battery_temperature_c": ({"battery", "c"}, set())}
EVENTS = ("pre_alarm_on", "pre_alarm_off", "atd_off", "atd_on", "atc_off", "atc_on", "soc_known",
          "synchronised", "alternator_on_on", "alternator_on_off")
FIELDS = ("atc", "atd", "pre_alarm", "remote_on", "alternator_on", "contactor", "aux_output", "alternator_atc")
EXPECT_TYPES = ("edge", "lead", "final", "never", "counter", "max_time", "range", "edges", "exposure", "resume")
PORT_FIELDS = ("atc", "atd", "alternator", "system_charge", "system_discharge", "alternator_on")
TRUTH_FIELDS = ("sim_cell_min_v", "sim_cell_max_v", "temp_min_c", "temp_max_c", "sim_input_v",
                "sim_alternator_temp_c", "sim_bms_temp_c", "lithium_v", "sim_alternator_a")


class ScenarioError(ValueError):
    """The scenario file is malformed; the message names the entry."""


def load(path):
    """Read and check a scenario file; return a dict. Raise ``ScenarioError``
    naming the file and the entry, for every mistake the run would meet (the
    settings, the steps' settings included, are checked before it starts)."""
    try:
        with open(path, "rb") as f:
            sc = tomllib.load(f)
    except OSError as e:
        raise ScenarioError("%s: cannot read it (%s); scenarios are in host_tools/scenarios/ and tests/scenarios/"
                            % (path, e.strerror or e))
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError("%s: not valid TOML: %s" % (path, e))
    sc.setdefault("name", str(path))
    return check(sc)


def _is_event(until):
    return until in EVENTS or (isinstance(until, str) and until.startswith(("code:", "soc_below:")))


def check(sc):
    for key in sc:
        if key not in ("name", "description", "board", "duration_s", "start_ticks_ms",
                       "bank", "settings", "step", "expect", "end_after_s", "plant"):
            raise ScenarioError("unknown top-level key '%s'" % key)
    for key, val in sc.get("plant", {}).items():
        if key not in PLANT_KEYS:
            raise ScenarioError("[plant] unknown key '%s'" % key)
        want = PLANT_KEYS[key]
        if (isinstance(val, bool) and want is not bool) or not isinstance(val, want):
            raise ScenarioError("[plant] %s has the wrong type: %r" % (key, val))
    if not isinstance(sc.get("duration_s"), (int, float)) or sc["duration_s"] <= 0:
        raise ScenarioError("duration_s (the longest the scenario may run, s) is required and > 0")
    bank = sc.setdefault("bank", {})
    for key, val in bank.items():
        if key not in BANK_KEYS:
            raise ScenarioError("[bank] unknown key '%s'" % key)
        if isinstance(val, bool) or not isinstance(val, BANK_KEYS[key]):
            raise ScenarioError("[bank] %s has the wrong type: %r" % (key, val))
    if bank.get("series", 1) * bank.get("parallel", 1) > 50:
        raise ScenarioError("[bank] at most 50 batteries")
    for i, st in enumerate(sc.setdefault("step", [])):
        where = "step %d" % (i + 1)
        for key in st:
            if key not in STEP_KEYS:
                raise ScenarioError("%s: unknown key '%s'" % (where, key))
        triggers = [k for k in ("t_s", "wait_s", "until") if k in st]
        if len(triggers) > 1:
            raise ScenarioError("%s: give one of t_s, wait_s, until" % where)
        if "until" in st and not _is_event(st["until"]):
            raise ScenarioError("%s: until must be one of %s, code:X-Bnn or soc_below:PCT" % (where, ", ".join(EVENTS)))
        if "remote" in st and st["remote"] not in REMOTE_STATES:
            raise ScenarioError("%s: remote must be one of %s" % (where, ", ".join(REMOTE_STATES)))
        if "fault" in st and st["fault"] not in FAULTS:
            raise ScenarioError("%s: fault must be one of %s" % (where, ", ".join(FAULTS)))
        if "faults" in st and (not isinstance(st["faults"], list) or any(f not in FAULTS for f in st["faults"])):
            raise ScenarioError("%s: faults must be a list of %s" % (where, ", ".join(FAULTS)))
        _check_step_items(st, sc["bank"], where)
    for i, ex in enumerate(sc.setdefault("expect", [])):
        if ex.get("type") not in EXPECT_TYPES:
            raise ScenarioError("expect %d: type must be one of %s" % (i + 1, ", ".join(EXPECT_TYPES)))
        if ex["type"] in ("edge", "edges") and ex.get("field") not in FIELDS + PORT_FIELDS[2:]:
            raise ScenarioError("expect %d: field must be one of %s" % (i + 1, ", ".join(FIELDS + PORT_FIELDS[2:])))
        if ex["type"] == "exposure":
            if ex.get("truth") not in TRUTH_FIELDS:
                raise ScenarioError("expect %d: truth must be one of %s" % (i + 1, ", ".join(TRUTH_FIELDS)))
            if ex.get("port") not in PORT_FIELDS or ("above" in ex) == ("below" in ex) or "max_s" not in ex:
                raise ScenarioError("expect %d: exposure needs port (%s), one of above/below and max_s"
                                    % (i + 1, ", ".join(PORT_FIELDS)))
    _check_settings(sc)
    return sc


def _check_settings(sc):
    # The firmware's own rules: [settings] as the board would boot with them, then
    # each step's settings on top of the ones before, as the run applies them; the
    # model (its board must have the pins) and the settings it does not have.
    import host_tools
    host_tools.use_firmware()
    import board as fw_board
    import models as fw_models
    import settings as fw_settings
    board_name = sc.get("board", "esp32-devkitc")
    try:
        b = fw_board.load(host_tools.board_path(board_name))
    except OSError:
        raise ScenarioError("board '%s': no such file boards/%s.json" % (board_name, board_name))
    s = fw_settings.Settings()
    initial = sc.get("settings", {})
    if not isinstance(initial, dict):
        raise ScenarioError("[settings] must be a table of setting = value")
    try:
        s.update(initial)
        model = fw_models.resolve(s.get("model"), b)
        fw_models.check_board(model, b)
    except ValueError as e:
        raise ScenarioError("[settings]: %s" % e)
    for name in initial:
        why = fw_models.setting_applies(model, name)
        if why:
            raise ScenarioError("[settings]: %s" % why)
    for i, st in enumerate(sc["step"]):
        if "settings" not in st:
            continue
        if not isinstance(st["settings"], dict):
            raise ScenarioError("step %d: settings must be a table of setting = value" % (i + 1))
        try:
            for name in st["settings"]:
                why = fw_models.setting_applies(model, name) if name in s.names() else None
                if why:
                    raise fw_settings.SettingsError(why)
            s.update(st["settings"])
        except ValueError as e:
            raise ScenarioError("step %d: settings: %s" % (i + 1, e))


def _check_step_items(st, bank, where):
    n_batteries = bank.get("series", 1) * bank.get("parallel", 1)
    n_cells = bank.get("cells", 4)
    for key, (need, opt) in ITEM_KEYS.items():
        if key not in st:
            continue
        items = st[key] if isinstance(st[key], list) else [st[key]]
        for it in items:
            if not isinstance(it, dict) or not need <= set(it) or set(it) - need - opt:
                raise ScenarioError("%s: %s entries need %s (optional %s)" % (
                    where, key, ", ".join(sorted(need)), ", ".join(sorted(opt)) or "none"))
            if not 1 <= it["battery"] <= n_batteries:
                raise ScenarioError("%s: %s battery %r is not 1..%d" % (where, key, it["battery"], n_batteries))
            if key == "cell" and not 1 <= it["cell"] <= n_cells:
                raise ScenarioError("%s: cell %r is not 1..%d" % (where, it["cell"], n_cells))
    for b in ([st["battery"]] if "battery" in st else []) + list(st.get("batteries", [])):
        if not isinstance(b, int) or not 1 <= b <= n_batteries:
            raise ScenarioError("%s: battery %r is not 1..%d" % (where, b, n_batteries))
    if "cycle" in st and st["cycle"]:
        cy = st["cycle"]
        if (not isinstance(cy, dict) or cy.get("key") not in CYCLE_KEYS or not cy.get("values")
                or len(cy.get("durations_s", [])) != len(cy["values"])
                or any(d <= 0 for d in cy["durations_s"])):
            raise ScenarioError("%s: cycle needs key (%s), values and as many durations_s > 0"
                                % (where, ", ".join(CYCLE_KEYS)))


def _edges(trace, field):
    """[(t_s, new value, record)] each time ``field`` changed (the first record counts)."""
    out = []
    prev = None
    for rec in trace:
        v = rec[field]
        if v != prev:
            out.append((rec["t_s"], v, rec))
            prev = v
    return out


def evaluate(sc, trace, link_errors):
    """Check ``sc['expect']`` against ``trace`` (list of dicts); return failure strings."""
    fails = []
    for i, ex in enumerate(sc.get("expect", [])):
        label = ex.get("label") or "expect %d (%s)" % (i + 1, ex["type"])
        msg = _check_one(ex, trace, link_errors)
        if msg:
            fails.append("%s: %s" % (label, msg))
    return fails


def window(lo, hi):
    """A time window in words: "in 30..45 s", "after 30 s", "before 45 s", "at any time"."""
    if lo == float("-inf") and hi == float("inf"):
        return "at any time"
    if hi == float("inf"):
        return "after %s s" % lo
    if lo == float("-inf"):
        return "before %s s" % hi
    return "in %s..%s s" % (lo, hi)


def bounds(lo, hi):
    """A range in words: "0..3", "at least 2", "at most 3"."""
    if hi is None or hi == float("inf"):
        return "at least %s" % lo if lo is not None else "any value"
    if lo is None:
        return "at most %s" % hi
    return "%s..%s" % (lo, hi)


def _check_one(ex, trace, link_errors):
    t = ex["type"]
    if not trace:
        return "empty trace"
    if t == "edge":
        want = ex.get("to", False)
        codes = ex.get("codes", [])
        lo = ex.get("after_s", float("-inf"))
        hi = ex.get("before_s", float("inf"))
        hits = [r for (ts, v, r) in _edges(trace, ex["field"])[1:]
                if v == want and lo <= ts <= hi and all(c in r["codes"] + r.get(ex["field"] + "_reasons", []) for c in codes)]
        need = ex.get("count_min", 1)
        if len(hits) < need:
            return "%s never became %s with %s %s (%d times, need %d)" % (
                ex["field"], want, codes or "any code", window(lo, hi), len(hits), need)
        return None
    if t == "lead":
        min_s = ex.get("min_s", 30)
        code = ex.get("code", "A-B01")
        atd_offs = [r for (ts, v, r) in _edges(trace, "atd")[1:] if v is False and code in r["atd_reasons"]]
        if not atd_offs:
            return "ATD was never withdrawn for %s" % code
        for r in atd_offs:
            on_since = None
            for rec in trace:
                if rec["t_s"] > r["t_s"]:
                    break
                if rec["pre_alarm"]:
                    on_since = rec["t_s"] if on_since is None else on_since
                else:
                    on_since = None
            if on_since is None:
                return "ATD withdrawn at %.1f s with no pre-alarm before it" % r["t_s"]
            lead = r["t_s"] - on_since
            if lead < min_s - 1e-6:
                return "pre-alarm only %.1f s before ATD was withdrawn at %.1f s (need %s s)" % (lead, r["t_s"], min_s)
        return None
    if t == "final":
        last = trace[-1]
        for key, want in ex.items():
            if key in ("type", "label"):
                continue
            if key == "codes":
                if sorted(last["codes"]) != sorted(want):
                    return "codes at the end are %s, expected %s" % (last["codes"], want)
            elif last.get(key) != want:
                return "%s at the end is %r, expected %r" % (key, last.get(key), want)
        return None
    if t == "never":
        lo = ex.get("after_s", float("-inf"))
        hi = ex.get("before_s", float("inf"))
        for rec in trace:
            if not lo <= rec["t_s"] <= hi:
                continue
            if "code" in ex and ex["code"] in rec["codes"]:
                return "%s was raised at %.1f s" % (ex["code"], rec["t_s"])
            if "field" in ex and rec[ex["field"]] == ex.get("value", False):
                return "%s was %r at %.1f s" % (ex["field"], rec[ex["field"]], rec["t_s"])
        return None
    if t == "counter":
        n = link_errors.get(ex["name"])
        if n is None:
            return "no link counter '%s' (known: %s)" % (ex["name"], ", ".join(sorted(link_errors)))
        if n < ex.get("min", 0) or n > ex.get("max", float("inf")):
            return "link counter %s is %d, expected %s" % (ex["name"], n, bounds(ex.get("min", 0), ex.get("max")))
        return None
    if t == "range":
        lo = ex.get("after_s", float("-inf"))
        hi = ex.get("before_s", float("inf"))
        recs = [r for r in trace if lo <= r["t_s"] <= hi]
        if not recs:
            return "no record %s" % window(lo, hi)
        for r in recs:
            v = r.get(ex["field"])
            if ex.get("minus"):
                v = None if v is None or r.get(ex["minus"]) is None else v - r[ex["minus"]]
            if v is None or not ex.get("min", float("-inf")) <= v <= ex.get("max", float("inf")):
                return "%s%s is %r at %.1f s, expected %s" % (
                    ex["field"], (" - " + ex["minus"]) if ex.get("minus") else "", v, r["t_s"],
                    bounds(ex.get("min"), ex.get("max")))
        return None
    if t == "edges":
        lo = ex.get("after_s", float("-inf"))
        hi = ex.get("before_s", float("inf"))
        n = len([1 for (ts, v, r) in _edges(trace, ex["field"])[1:] if lo <= ts <= hi])
        if n < ex.get("min", 0) or n > ex.get("max", float("inf")):
            return "%s changed %d times %s, expected %s" % (
                ex["field"], n, window(lo, hi), bounds(ex.get("min", 0), ex.get("max")))
        return None
    if t == "exposure":
        return _exposure(ex, trace)
    if t == "resume":
        return _resume(ex, trace)
    if t == "max_time":
        if trace[-1]["t_s"] > ex["s"]:
            return "scenario ran %.0f s, more than %s s" % (trace[-1]["t_s"], ex["s"])
        return None
    return "unknown expectation"


def _exposure(ex, trace):
    """The longest stretch in which the truth was past the limit while the port
    stayed allowed must not exceed ``max_s`` (records are at most 1 s apart);
    with ``cumulative = true``, the sum of all such time."""
    field, port = ex["truth"], ex["port"]
    limit = ex.get("above", ex.get("below"))
    above = "above" in ex
    lo = ex.get("after_s", float("-inf"))
    hi = ex.get("before_s", float("inf"))
    trace = [r for r in trace if lo <= r["t_s"] <= hi]
    if ex.get("cumulative"):
        total = 0.0
        first = None
        for r, nxt in zip(trace, trace[1:]):
            v = r.get(field)
            if v is not None and (v > limit if above else v < limit) and r[port]:
                total += nxt["t_s"] - r["t_s"]
                first = r["t_s"] if first is None else first
        if total > ex["max_s"]:
            return "%s was allowed for %.1f s in all (from %.1f s) with %s %s %s (at most %s s)" % (
                port, total, first, field, "above" if above else "below", limit, ex["max_s"])
        return None
    start = None
    worst = 0.0
    worst_at = None
    for r in trace:
        v = r.get(field)
        bad = v is not None and (v > limit if above else v < limit) and r[port]
        if bad:
            if start is None:
                start = r["t_s"]
            if r["t_s"] - start >= worst:
                worst, worst_at = r["t_s"] - start, start
        else:
            if start is not None and r["t_s"] - start > worst:
                worst, worst_at = r["t_s"] - start, start
            start = None
    if worst > ex["max_s"]:
        return "%s stayed allowed for %.1f s from %.1f s with %s %s %s (at most %s s)" % (
            port, worst, worst_at, field, "above" if above else "below", limit, ex["max_s"])
    return None


def _resume(ex, trace):
    """Each time ``field`` came back on after being off, ``signal`` must have been
    at or below ``below`` for at least ``min_s`` just before (a hysteresis with a
    hold time, behaviour §3); and at least ``count_min`` (default 1) returns."""
    field, sig, level, need = ex["field"], ex["signal"], ex["below"], ex["min_s"]
    returns = 0
    below_since = None
    prev = None
    was_on = False
    for rec in trace:
        v = rec.get(sig)
        if rec[field] and prev is False and was_on:
            returns += 1
            held = -1.0 if below_since is None else rec["t_s"] - below_since
            if held < need - 1.0 - 1e-6:
                return "%s came back at %.1f s after %s had been <= %s for only %.1f s (need %s s)" % (
                    field, rec["t_s"], sig, level, max(held, 0.0), need)
        if v is not None and v <= level:
            below_since = rec["t_s"] if below_since is None else below_since
        else:
            below_since = None
        prev = rec[field]
        was_on = was_on or bool(prev)
    if returns < ex.get("count_min", 1):
        return "%s came back %d times, expected at least %d" % (field, returns, ex.get("count_min", 1))
    return None
