"""Scenario files: what the simulated bank does and what must happen.

A scenario is a TOML file (format in docs/scenarios.md): ``[bank]`` builds the
bank, ``[settings]`` overrides firmware settings, ``[[step]]`` entries run in
order (each waits for a time or an event, then changes loads, chargers,
temperature, remote input, faults or settings), ``[[expect]]`` entries are checked
against the trace at the end.

``load(path)`` checks the whole file before anything runs and raises
``ScenarioError`` with one line naming the file, the entry, what is wrong and
what would be right (docs/scenarios.md, "Mistakes").
"""
import difflib
import math
import os
import sys
import tomllib

import host_tools


class _Num:
    """A number (``integer``: an integer) within the limits, of ``unit``."""

    def __init__(self, unit="", lo=None, hi=None, above=None, integer=False, words=None):
        self.unit, self.lo, self.hi, self.above, self.integer = unit, lo, hi, above, integer
        self._words = words

    def ok(self, v):
        if isinstance(v, bool) or not isinstance(v, int if self.integer else (int, float)):
            return False
        if not math.isfinite(v):
            return False
        return ((self.lo is None or v >= self.lo) and (self.hi is None or v <= self.hi)
                and (self.above is None or v > self.above))

    def words(self):
        if self._words:
            return self._words
        s = "an integer" if self.integer else "a number"
        if self.lo is not None and self.hi is not None:
            s += " %s..%s" % (self.lo, self.hi)
        elif self.above is not None:
            s += " above %s" % self.above
        elif self.lo is not None:
            s += ", %s or more" % self.lo
        return s + (" (%s)" % self.unit if self.unit else "")


class _Choice:
    """One of ``values`` (a tuple, or a function returning one, looked up when
    first needed); ``words`` replaces the list in messages when it is long."""

    def __init__(self, values, words=None):
        self._values, self._words = values, words

    def values(self):
        if callable(self._values):
            self._values = tuple(self._values())
        return self._values

    def ok(self, v):
        return isinstance(v, str) and v in self.values()

    def words(self):
        return self._words or "one of " + ", ".join(self.values())


class _Type:
    def __init__(self, types, words):
        self.types, self._words = types, words

    def ok(self, v):
        return isinstance(v, self.types) and (bool not in self.types or isinstance(v, bool))

    def words(self):
        return self._words


class _ListOf:
    """A list whose every item is ``item``."""

    def __init__(self, item, empty=True, words=None):
        self.item, self.empty, self._words = item, empty, words

    def ok(self, v):
        return isinstance(v, list) and (self.empty or v) and all(self.item.ok(x) for x in v)

    def words(self):
        if self._words:
            return self._words
        return "a list of %s, e.g. [%s]" % (self.item.words(), ", ".join(repr(x) for x in self._example()))

    def _example(self):
        if isinstance(self.item, _Choice):
            return list(self.item.values()[:2])
        return [1, 2]


_BOOL = _Type((bool,), "true or false")
_STR = _Type((str,), "a string in quotes")
_TABLE = _Type((dict,), "a table")
_ANY = _Type((object,), "any value")
_TIME = _Num("s")


def _firmware():
    # The firmware's own modules (settings, models, codes, board, link), importable
    # as on the board; only the path: nothing is installed, no pin is touched.
    for d in (host_tools.SHIM_DIR, host_tools.FIRMWARE_DIR):
        if d not in sys.path:
            sys.path.insert(0, d)


def _codes():
    _firmware()
    import codes
    return [row[0] for row in codes.TABLE]


def _reasons():
    _firmware()
    import codes
    return _codes() + [codes.REASON_STARTUP, codes.REASON_REMOTE_OFF, codes.REASON_NOT_12V, codes.REASON_UPDATING]


def _fuses():
    _firmware()
    import settings
    return settings.schema_row("fuse_type")[3]


def _counters():
    _firmware()
    import link
    return list(link.ERROR_NAMES) + ["frames_ok"]


def _trace_fields():
    from host_tools.sim import trace
    return trace.field_names()


BANK_KEYS = {"series": _Num("batteries per string", 1, 50, integer=True),
             "parallel": _Num("strings", 1, 50, integer=True),
             "cells": _Num("cells per battery; the link carries 1..16", 1, 16, integer=True),
             "capacity_ah": _Num("Ah", 1, 65535), "soc_pct": _Num("%; the cell curve ends at 108", 0, 108),
             "r_mohm": _Num("mOhm", lo=0), "spread_pct": _Num("%", 0, 50),
             "temps": _Num("sensors per battery; the link carries 1..4", 1, 4, integer=True),
             "temperature_c": _Num("°C"), "seed": _Num(integer=True), "cell_offset_pct": _Num("%"),
             "current_gain_error_pct": _Num("%", above=-100), "current_offset_a": _Num("A"),
             "temp_spread_c": _Num("°C", lo=0)}
# [plant]: the alternator side and System+ (host_tools/sim/plant.py, docs/scenarios.md).
PLANT_KEYS = {"rated_a": _Num("A", above=0), "regulator_v": _Num("V", above=0), "alternator_ambient_c": _Num("°C"),
              "starter_soc_pct": _Num("%", 0, 100), "vehicle_load_a": _Num("A", lo=0),
              "engine_rpm": _Num("rpm", lo=0), "fuse": _Choice(_fuses), "fuse_error_pct": _Num("%", above=-100),
              "bms_ambient_c": _Num("°C"), "bms_rth_k_per_w": _Num("K/W", above=0),
              "system_cap_f": _Num("F", above=0), "comparator_a": _Num("A", above=0),
              "system_load_a": _Num("A", lo=0), "system_charge_a": _Num("A", lo=0),
              "adc_noise_mv": _Num("mV", lo=0), "ideal_diode": _BOOL}
REMOTE_STATES = ("loop", "open", "l_low", "h_high")
FAULTS = ("none", "unplug", "no_battery", "remove_battery", "bit_errors", "garbage", "stale", "drop",
          "intermittent")
CYCLE_KEYS = ("load_a", "charge_a", "uncontrolled_a", "temperature_c")
EVENTS = ("pre_alarm_on", "pre_alarm_off", "atd_off", "atd_on", "atc_off", "atc_on", "soc_known",
          "synchronised", "alternator_on_on", "alternator_on_off")
# Step keys checked by their own code (after the simple ones): the trigger, the
# battery numbers, the per-battery tables, the cycle and the settings.
_SPECIAL = object()
STEP_SPEC = {"t_s": _Num("s", lo=0), "wait_s": _Num("s", lo=0), "until": _SPECIAL, "delay_s": _Num("s", lo=0),
             "timeout_s": _Num("s", above=0), "load_a": _Num("A", lo=0), "charge_a": _Num("A", lo=0),
             "uncontrolled_a": _Num("A, + = charging"), "charge_v": _Num("V", above=0),
             "temperature_c": _Num("°C"), "remote": _Choice(REMOTE_STATES), "soft_switch": _BOOL,
             "fault": _Choice(FAULTS), "faults": _ListOf(_Choice(FAULTS)), "bit_error_rate": _Num("", 0, 1),
             "battery": _SPECIAL, "batteries": _SPECIAL, "drop_rate": _Num("", 0, 1),
             "answer_every_s": _Num("s", above=0), "settings": _SPECIAL, "note": _STR, "cell": _SPECIAL,
             "battery_flags": _SPECIAL, "battery_temperature_c": _SPECIAL, "cycle": _SPECIAL, "frozen_cell": _SPECIAL,
             "noise_mv": _Num("mV", lo=0), "set_soc_pct": _Num("%", 0, 100), "reset_alarms": _BOOL,
             "engine_rpm": _Num("rpm", lo=0), "vehicle_load_a": _Num("A", lo=0), "alternator_ambient_c": _Num("°C"),
             "bms_ambient_c": _Num("°C"), "bms_rth_k_per_w": _Num("K/W", above=0), "system_load_a": _Num("A", lo=0),
             "system_charge_a": _Num("A", lo=0), "system_short": _BOOL, "starter_soc_pct": _Num("%", 0, 100),
             "regulator_v": _Num("V", above=0)}
STEP_KEYS = set(STEP_SPEC)
# Per-battery (and per-cell) step tables: required and optional keys ("battery"
# and "cell" are numbers within the bank, checked against it).
ITEM_KEYS = {"cell": ({"battery", "cell"}, {"r_mohm": _Num("mOhm", lo=0), "soc_pct": _Num("%", 0, 108)}),
             "battery_flags": ({"battery", "flags"}, {"flags": _Num("bit 0 balancing, bit 1 internal fault",
                                                                    0, 65535, integer=True)}),
             "battery_temperature_c": ({"battery", "c"}, {"c": _Num("°C")}),
             "frozen_cell": ({"battery", "cell"}, {"frozen": _BOOL})}
FIELDS = ("atc", "atd", "pre_alarm", "remote_on", "alternator_on", "contactor", "aux_output", "alternator_atc")
PORT_FIELDS = ("atc", "atd", "alternator", "system_charge", "system_discharge", "alternator_on")
TRUTH_FIELDS = ("sim_cell_min_v", "sim_cell_max_v", "temp_min_c", "temp_max_c", "sim_input_v",
                "sim_alternator_temp_c", "sim_bms_temp_c", "lithium_v", "sim_alternator_a")
_EDGE_FIELD = _Choice(FIELDS + PORT_FIELDS[2:5])
_TRACE_FIELD = _Choice(_trace_fields, "a trace field (docs/trace.md)")
_CODE = _Choice(_codes, "a code of docs/codes.md, e.g. A-B01")
_CODES_OR_REASONS = _ListOf(_Choice(_reasons), words='a list of codes of docs/codes.md or reasons (startup, '
                            'remote-off, not-12V), e.g. ["A-B01"]')
_CODES = _ListOf(_CODE, words='a list of codes of docs/codes.md, e.g. ["A-B01"] or []')
_WINDOW = {"after_s": _TIME, "before_s": _TIME}
# type -> (required keys, optional keys), each with what its value must be.
EXPECT_SPEC = {
    "edge": ({"field": _EDGE_FIELD}, dict(_WINDOW, to=_BOOL, codes=_CODES_OR_REASONS,
                                          count_min=_Num(lo=0, integer=True))),
    "lead": ({}, {"code": _CODE, "min_s": _Num("s", lo=0)}),
    "final": ({}, {}),                         # any trace field = value, checked on its own
    "never": ({}, dict(_WINDOW, code=_CODE, field=_TRACE_FIELD, value=_ANY)),
    "counter": ({"name": _Choice(_counters)}, {"min": _Num(), "max": _Num()}),
    "max_time": ({"s": _Num("s", above=0)}, {}),
    "edges": ({"field": _EDGE_FIELD}, dict(_WINDOW, min=_Num(), max=_Num())),
    "exposure": ({"truth": _Choice(TRUTH_FIELDS), "port": _Choice(PORT_FIELDS), "max_s": _Num("s", lo=0)},
                 dict(_WINDOW, above=_Num(), below=_Num(), cumulative=_BOOL)),
    "range": ({"field": _TRACE_FIELD}, dict(_WINDOW, minus=_TRACE_FIELD, min=_Num(), max=_Num())),
    "resume": ({"field": _EDGE_FIELD, "signal": _TRACE_FIELD, "below": _Num(), "min_s": _Num("s", lo=0)},
               {"count_min": _Num(lo=0, integer=True)}),
}
EXPECT_TYPES = tuple(EXPECT_SPEC)
TOP_SPEC = {"name": _STR, "description": _STR, "board": _STR, "duration_s": _Num("s", above=0),
            "end_after_s": _Num("s", lo=0), "start_ticks_ms": _Num("ms", 0, (1 << 30) - 1, integer=True),
            "bank": _TABLE, "plant": _TABLE, "settings": _TABLE, "step": _SPECIAL, "expect": _SPECIAL}


class ScenarioError(ValueError):
    """A mistake in a scenario: one line naming the entry, what is wrong and what
    would be right (``load`` puts the file's name first)."""


def load(path):
    """Read and check a scenario file; return a dict.

    Raise ``ScenarioError``, its message starting with ``path``, for every
    mistake the run would meet, before anything runs: an unreadable file, TOML
    syntax (with its line and column), unknown keys (with the close ones), values
    of the wrong type or out of range, battery and cell numbers outside the bank,
    events and codes that do not exist, the settings and every step's settings
    (in order, by the firmware's own rules and the model's), the expectations'
    keys."""
    try:
        with open(path, "rb") as f:
            sc = tomllib.load(f)
    except OSError as e:
        raise ScenarioError("%s: cannot read it (%s); scenarios are in host_tools/scenarios/ and tests/scenarios/"
                            % (path, e.strerror or e))
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError("%s: not valid TOML: %s" % (path, e))
    except UnicodeDecodeError as e:
        raise ScenarioError("%s: not UTF-8 text (byte %d): is this a scenario file?" % (path, e.start))
    sc.setdefault("name", str(path))
    try:
        return check(sc)
    except ScenarioError as e:
        raise ScenarioError("%s: %s" % (path, e))


def _wrong(what, val, kind):
    raise ScenarioError("%s must be %s, not %s" % (what, kind.words(), _show(val)))


def _show(val):
    if isinstance(val, bool):
        return "true" if val else "false"
    if isinstance(val, dict):
        return "a table"
    if isinstance(val, list) and len(repr(val)) > 40:
        return "a list of %d" % len(val)
    return repr(val)


def _unknown(what, key, known, elsewhere=(), doc="the keys are in docs/scenarios.md"):
    # An unknown key: the close ones, or the table it belongs in.
    close = difflib.get_close_matches(key, list(known), n=2, cutoff=0.75)
    hint = " (did you mean %s?)" % " or ".join("'%s'" % k for k in close) if close else ""
    for where, keys in elsewhere:
        if key in keys:
            hint = " (%s is %s)" % (key, where.format(key=key))
            break
    raise ScenarioError("%s '%s'%s; %s" % (what, key, hint, doc))


def _table(where, table, spec, elsewhere=(), unknown=None):
    for key, val in table.items():
        if key not in spec:
            _unknown(unknown or "%sunknown key" % where, key, spec, elsewhere)
        kind = spec[key]
        if kind is not _SPECIAL and not kind.ok(val):
            _wrong(where + key, val, kind)


_TOP = "a top-level key: put it above the first [table]"


def _setting_names():
    _firmware()
    import settings
    return set(settings.Settings().names())


def _is_event(until):
    return until in EVENTS or (isinstance(until, str) and until.startswith(("code:", "soc_below:")))


def check(sc):
    """Check a scenario dict (as ``load`` reads it) in place; return it with its
    defaults (``bank``, ``step``, ``expect``); raise ``ScenarioError``."""
    setting_names = _setting_names()
    _table("", sc, TOP_SPEC, (("a setting: put it under [settings]", setting_names),
                              ("a [bank] key", BANK_KEYS), ("a [plant] key", PLANT_KEYS),
                              ("a step key: put it in a [[step]]", STEP_KEYS)), "unknown top-level key")
    if "duration_s" not in sc:
        raise ScenarioError("duration_s (the longest the scenario may run, s) is required and > 0")
    bank = sc.setdefault("bank", {})
    _table("[bank] ", bank, BANK_KEYS, (("a [plant] key", PLANT_KEYS), (_TOP, TOP_SPEC)))
    if bank.get("series", 1) * bank.get("parallel", 1) > 50:
        raise ScenarioError("[bank] at most 50 batteries: series %d x parallel %d is %d"
                            % (bank.get("series", 1), bank.get("parallel", 1),
                               bank.get("series", 1) * bank.get("parallel", 1)))
    _table("[plant] ", sc.setdefault("plant", {}), PLANT_KEYS, (("a [bank] key", BANK_KEYS), (_TOP, TOP_SPEC)))
    for name in ("step", "expect"):
        arr = sc.setdefault(name, [])
        if not isinstance(arr, list) or not all(isinstance(x, dict) for x in arr):
            raise ScenarioError("%s must be an array of tables: write [[%s]] above each %s" % (
                name, name, name if name == "step" else "expectation"))
    for i, st in enumerate(sc["step"]):
        _check_step(st, bank, "step %d" % (i + 1), setting_names)
    for i, ex in enumerate(sc["expect"]):
        _check_expect(ex, i + 1)
    _check_settings(sc)
    return sc


def _check_step(st, bank, where, setting_names):
    _table(where + ": ", st, STEP_SPEC, (("a setting: write settings = {{ {key} = ... }} in the step", setting_names),))
    triggers = [k for k in ("t_s", "wait_s", "until") if k in st]
    if len(triggers) > 1:
        raise ScenarioError("%s: give one trigger of t_s, wait_s, until, not %s" % (where, " and ".join(triggers)))
    if "until" in st:
        _check_until(st["until"], where)
    elif "delay_s" in st:
        raise ScenarioError("%s: delay_s counts from an until event: add until, or use wait_s" % where)
    _check_step_items(st, bank, where)
    if "settings" in st and not isinstance(st["settings"], dict):
        raise ScenarioError("%s: settings must be a table of setting = value, e.g. settings = { cell_uv_trip_v = 2.9 }"
                            % where)


def _check_until(until, where):
    what = ("until must be one of %s, code:CODE (e.g. code:A-B01) or soc_below:PCT (e.g. soc_below:20)"
            % ", ".join(EVENTS))
    if not _is_event(until):
        raise ScenarioError("%s: %s, not %s" % (where, what, _show(until)))
    if until.startswith("code:") and until[5:] not in _CODE.values():
        close = difflib.get_close_matches(until[5:], list(_CODE.values()), n=1)
        raise ScenarioError("%s: until %s: there is no code %s%s; the codes are in docs/codes.md" % (
            where, until, until[5:], " (did you mean code:%s?)" % close[0] if close else ""))
    if until.startswith("soc_below:"):
        try:
            pct = float(until[10:])
        except ValueError:
            pct = None
        if pct is None or not 0 <= pct <= 100:
            raise ScenarioError("%s: until %s: the level must be a number 0..100 (%%), e.g. soc_below:20"
                                % (where, until))


def _check_expect(ex, n):
    where = "expect %d" % n
    t = ex.get("type")
    if t not in EXPECT_SPEC:
        raise ScenarioError("%s: type must be one of %s, not %s" % (
            where, ", ".join(EXPECT_TYPES), _show(t) if "type" in ex else "missing"))
    where = "expect %d (%s)" % (n, t)
    if "label" in ex and not _STR.ok(ex["label"]):
        _wrong(where + ": label", ex["label"], _STR)
    need, opt = EXPECT_SPEC[t]
    if t == "final":
        _check_final(ex, where)
        return
    for key, val in ex.items():
        if key in ("type", "label"):
            continue
        kind = need.get(key, opt.get(key))
        if kind is None:
            _unknown("%s: unknown key" % where, key, list(need) + list(opt) + ["label"])
        if not kind.ok(val):
            _wrong("%s: %s" % (where, key), val, kind)
    missing = [k for k in need if k not in ex]
    if missing:
        raise ScenarioError("%s needs %s" % (where, " and ".join(missing)))
    if t == "never" and ("code" in ex) == ("field" in ex):
        raise ScenarioError("%s needs one of code (a code that must never be raised) or field (with value, "
                            "default false)" % where)
    if t == "never" and "value" in ex and "field" not in ex:
        raise ScenarioError("%s: value goes with field" % where)
    if t == "exposure" and ("above" in ex) == ("below" in ex):
        raise ScenarioError("%s needs one of above or below (the truth's limit)" % where)


def _check_final(ex, where):
    for key, val in ex.items():
        if key in ("type", "label"):
            continue
        if key == "codes":
            if not _CODES.ok(val):
                _wrong(where + ": codes", val, _CODES)
        elif not _TRACE_FIELD.ok(key):
            _unknown("%s: no trace field" % where, key, _TRACE_FIELD.values(), (),
                     "the fields are in docs/trace.md")
    if len(ex) == 1 + ("label" in ex):
        raise ScenarioError("%s needs at least one trace field = value, e.g. atd = true" % where)


def _check_settings(sc):
    # The firmware's own rules: [settings] as the board would boot with them, then
    # each step's settings on top of the ones before, as the run applies them; the
    # model (its board must have the pins) and the settings it does not have.
    _firmware()
    import board as fw_board
    import models as fw_models
    import settings as fw_settings
    board_name = sc.get("board", "esp32-devkitc")
    try:
        b = fw_board.load(host_tools.board_path(board_name))
    except OSError:
        have = sorted(os.path.splitext(n)[0] for n in os.listdir(host_tools.BOARDS_DIR) if n.endswith(".json"))
        raise ScenarioError("board '%s': no such file boards/%s.json (boards: %s)"
                            % (board_name, board_name, ", ".join(have)))
    s = fw_settings.Settings()
    initial = sc.get("settings", {})
    _known_settings("[settings]", initial, s.names())
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
        _known_settings("step %d: settings" % (i + 1), st["settings"], s.names())
        try:
            for name in st["settings"]:
                why = fw_models.setting_applies(model, name) if name in s.names() else None
                if why:
                    raise fw_settings.SettingsError(why)
            s.update(st["settings"])
        except ValueError as e:
            raise ScenarioError("step %d: settings: %s" % (i + 1, e))


def _known_settings(where, table, names):
    for name in table:
        if name not in names:
            elsewhere = () if where != "[settings]" else ((_TOP, TOP_SPEC), ("a step key: put it in a [[step]]", STEP_KEYS))
            _unknown("%s: unknown setting" % where, name, names, elsewhere + (("a [bank] key", BANK_KEYS),
                     ("a [plant] key", PLANT_KEYS)), "the settings are in docs/settings.md")


def _check_step_items(st, bank, where):
    n_batteries = bank.get("series", 1) * bank.get("parallel", 1)
    n_cells = bank.get("cells", 4)
    have = "the bank has one battery" if n_batteries == 1 else "the bank has %d batteries" % n_batteries
    battery = _Num(lo=1, hi=n_batteries, integer=True, words="a battery number 1..%d (%s)" % (n_batteries, have))
    for key, (need, opt) in ITEM_KEYS.items():
        if key not in st:
            continue
        items = st[key] if isinstance(st[key], list) else [st[key]]
        for it in items:
            if not isinstance(it, dict) or not need <= set(it) or set(it) - need - set(opt):
                raise ScenarioError("%s: %s entries need %s (optional %s), e.g. %s = { %s }" % (
                    where, key, ", ".join(sorted(need)), ", ".join(sorted(set(opt) - need)) or "none", key,
                    ", ".join("%s = 1" % k for k in sorted(need))))
            if not battery.ok(it["battery"]):
                _wrong("%s: %s battery" % (where, key), it["battery"], battery)
            if key in ("cell", "frozen_cell"):
                cell = _Num(lo=1, hi=n_cells, integer=True,
                            words="a cell number 1..%d (each battery has %d)" % (n_cells, n_cells))
                if not cell.ok(it["cell"]):
                    _wrong("%s: cell" % where, it["cell"], cell)
            for k, kind in opt.items():
                if k in it and not kind.ok(it[k]):
                    _wrong("%s: %s %s" % (where, key, k), it[k], kind)
    if "battery" in st and not battery.ok(st["battery"]):
        _wrong("%s: battery" % where, st["battery"], battery)
    batteries = _ListOf(battery, False, "a list of battery numbers 1..%d (%s), e.g. [1]" % (n_batteries, have))
    if "batteries" in st and not batteries.ok(st["batteries"]):
        _wrong("%s: batteries" % where, st["batteries"], batteries)
    if "cycle" in st and st["cycle"] != {}:
        cy = st["cycle"]
        if (not isinstance(cy, dict) or set(cy) != {"key", "values", "durations_s"} or cy["key"] not in CYCLE_KEYS
                or not _ListOf(_Num(), empty=False).ok(cy["values"])
                or not _ListOf(_Num("s", above=0), empty=False).ok(cy["durations_s"])
                or len(cy["durations_s"]) != len(cy["values"])):
            raise ScenarioError("%s: cycle needs key (%s), values (numbers) and as many durations_s > 0, e.g. "
                                "cycle = { key = \"charge_a\", values = [100, 0], durations_s = [1, 1] }; "
                                "cycle = {} stops it" % (where, ", ".join(CYCLE_KEYS)))


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
