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
             "current_gain_error_pct": (int, float), "current_offset_a": (int, float)}
STEP_KEYS = {"t_s", "wait_s", "until", "delay_s", "timeout_s", "load_a", "charge_a",
             "uncontrolled_a", "charge_v", "temperature_c", "remote", "soft_switch", "fault",
             "bit_error_rate", "battery", "settings", "note"}
REMOTE_STATES = ("loop", "open", "l_low", "h_high")
FAULTS = ("none", "unplug", "no_battery", "remove_battery", "bit_errors", "garbage", "stale")
EVENTS = ("pre_alarm_on", "pre_alarm_off", "atd_off", "atd_on", "atc_off", "atc_on", "soc_known",
          "synchronised")
FIELDS = ("atc", "atd", "pre_alarm", "remote_on")
EXPECT_TYPES = ("edge", "lead", "final", "never", "counter", "max_time", "range")


class ScenarioError(ValueError):
    """The scenario file is malformed; the message names the entry."""


def load(path):
    """Read and check a scenario file; return a dict. Raise ``ScenarioError``."""
    try:
        with open(path, "rb") as f:
            sc = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError("%s: not valid TOML: %s" % (path, e))
    sc.setdefault("name", str(path))
    return check(sc)


def _is_event(until):
    return until in EVENTS or (isinstance(until, str) and until.startswith(("code:", "soc_below:")))


def check(sc):
    for key in sc:
        if key not in ("name", "description", "board", "duration_s", "start_ticks_ms",
                       "bank", "settings", "step", "expect", "end_after_s"):
            raise ScenarioError("unknown top-level key '%s'" % key)
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
    for i, ex in enumerate(sc.setdefault("expect", [])):
        if ex.get("type") not in EXPECT_TYPES:
            raise ScenarioError("expect %d: type must be one of %s" % (i + 1, ", ".join(EXPECT_TYPES)))
        if ex["type"] == "edge" and ex.get("field") not in FIELDS:
            raise ScenarioError("expect %d: field must be one of %s" % (i + 1, ", ".join(FIELDS)))
    return sc


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
            return "%s never became %s with %s in %s..%s s (%d times, need %d)" % (
                ex["field"], want, codes or "any code", lo, hi, len(hits), need)
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
            return "link counter %s is %d, expected %s..%s" % (ex["name"], n, ex.get("min", 0), ex.get("max", "inf"))
        return None
    if t == "range":
        lo = ex.get("after_s", float("-inf"))
        hi = ex.get("before_s", float("inf"))
        recs = [r for r in trace if lo <= r["t_s"] <= hi]
        if not recs:
            return "no record in %s..%s s" % (lo, hi)
        for r in recs:
            v = r.get(ex["field"])
            if ex.get("minus"):
                v = None if v is None or r.get(ex["minus"]) is None else v - r[ex["minus"]]
            if v is None or not ex.get("min", float("-inf")) <= v <= ex.get("max", float("inf")):
                return "%s%s is %r at %.1f s, expected %s..%s" % (
                    ex["field"], (" - " + ex["minus"]) if ex.get("minus") else "", v, r["t_s"],
                    ex.get("min", "-inf"), ex.get("max", "inf"))
        return None
    if t == "max_time":
        if trace[-1]["t_s"] > ex["s"]:
            return "scenario ran %.0f s, more than %s s" % (trace[-1]["t_s"], ex["s"])
        return None
    return "unknown expectation"
