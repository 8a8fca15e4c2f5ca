"""``bmsctl plot TRACE``: the story of a simulated run as one PNG (matplotlib).

``python -m host_tools.plot TRACE [-o PNG]`` draws five panels on one time axis:

- the cells, lowest and highest, as the firmware saw them and as they were,
  against the trip lines: the firmware's defaults (``firmware/settings.py``),
  replaced by the run's settings the trace carries (docs/trace.md);
- the bank voltage and current;
- SoC, the battery monitor's against the simulator's truth (shaded while the
  monitor does not know it);
- the outputs the model has, as bands: on, off, withdrawn, the pre-alarm;
- the active codes as bands, coloured by severity, with their meanings.

Each step's note is a numbered dashed line through every panel, its text in a
numbered list under the plot. ``plot(trace_path, png_path)`` raises ``PlotError``
(a ``ValueError``) with a one-line message for a trace it cannot draw.
"""
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

import host_tools  # noqa: E402

# (setting, label, colour, line style): the trip lines, top to bottom.
LINES = (("cell_ov_hard_v", "OV hard", "#7b1fa2", ":"), ("cell_ov_trip_v", "OV trip (ATC)", "#d32f2f", "--"),
         ("pre_alarm_trip_v", "pre-alarm", "#f9a825", "--"), ("cell_uv_trip_v", "UV trip (ATD)", "#d32f2f", "--"),
         ("cell_uv_hard_v", "UV hard", "#7b1fa2", ":"))
TRIP_KEYS = tuple(line[0] for line in LINES)
STATE_COLOUR = {"on": "#43a047", "off": "#cfd8dc", "withdrawn": "#e53935", "alarm": "#fbc02d"}
SEVERITY_COLOUR = {"W": "#f9a825", "A": "#d32f2f", "E": "#6a1b9a"}
SEVERITY_NAME = {"W": "warning", "A": "alarm", "E": "error"}
MEANING_CHARS = 40          # a code's meaning beside it, cut to this


class PlotError(ValueError):
    """The trace cannot be drawn; the message (one line) says why."""


def _firmware(name):
    # A firmware module (settings, codes, models) as the board has it; only the
    # path is added, nothing is installed.
    for d in (host_tools.SHIM_DIR, host_tools.FIRMWARE_DIR):
        if d not in sys.path:
            sys.path.insert(0, d)
    return __import__(name)


def default_lines():
    """The trip lines' defaults, ``{setting: V}``, from the firmware's settings schema."""
    return dict((row[0], row[2]) for row in _firmware("settings").SCHEMA if row[0] in TRIP_KEYS)


def read_trace(path):
    """The records of a JSON Lines trace (a list of dicts, in time order);
    ``PlotError`` when it cannot be read, is empty, or is not a simulator trace."""
    recs = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    raise PlotError("line %d is not JSON: is this a trace from bmsctl sim?" % n)
                t = rec.get("t_s") if isinstance(rec, dict) else None
                if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
                    raise PlotError("line %d has no t_s: is this a trace from bmsctl sim?" % n)
                if recs and t < recs[-1]["t_s"]:
                    raise PlotError("line %d goes back in time (t_s %s after %s): records must be in time order"
                                    % (n, t, recs[-1]["t_s"]))
                recs.append(rec)
    except UnicodeDecodeError:
        raise PlotError("not a text file: is this a trace from bmsctl sim?")
    except OSError as e:
        raise PlotError("cannot read it (%s)" % (e.strerror or e))
    if not recs:
        raise PlotError("the trace is empty: no record to draw")
    return recs


def time_unit(duration_s):
    """``(divisor, name)`` for a run of ``duration_s`` seconds: s up to 10
    minutes, min up to 3 hours, then h."""
    if duration_s > 3 * 3600:
        return 3600.0, "h"
    if duration_s > 600:
        return 60.0, "min"
    return 1.0, "s"


def spans(recs, pred):
    """``[(start_s, length_s)]`` where ``pred(record)`` holds, each span lasting
    until the next record (the last one 0.1 s, a tick, at least)."""
    out = []
    start = None
    for r in recs:
        on = pred(r)
        if on and start is None:
            start = r["t_s"]
        if not on and start is not None:
            out.append((start, r["t_s"] - start))
            start = None
    if start is not None:
        out.append((start, max(recs[-1]["t_s"] - start, 0.1)))
    return out


def trip_lines(recs):
    """``{setting: [(from_s, V)]}``: each trip line and where it changes (the
    defaults, then the ``settings`` the trace's records carry)."""
    t0 = recs[0]["t_s"]
    out = dict((k, [(t0, v)]) for k, v in default_lines().items())
    for r in recs:
        s = r.get("settings")
        if not isinstance(s, dict):
            continue
        for k in TRIP_KEYS:
            v = s.get(k)
            if not _number(v) or k not in out or out[k][-1][1] == v:
                continue
            if out[k][-1][0] == r["t_s"]:
                out[k][-1] = (r["t_s"], v)
            else:
                out[k].append((r["t_s"], v))
    return out


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _series(recs, key, div):
    return ([r["t_s"] / div for r in recs],
            [r.get(key) if _number(r.get(key)) else float("nan") for r in recs])


def _codes(rec):
    c = rec.get("codes")
    return [x for x in c if isinstance(x, str)] if isinstance(c, list) else []


def _codes_in_order(recs):
    seen = set()
    for r in recs:
        seen.update(_codes(r))
    return sorted(seen, key=lambda c: ("WAE".index(c[0]) if c[:1] in ("W", "A", "E") else 3, c))


def _meaning(code):
    codes = _firmware("codes")
    try:
        text = codes.meaning(codes.code_id(code))
    except (KeyError, IndexError):
        return code
    if len(text) > MEANING_CHARS and " (" in text:
        text = text.split(" (")[0]              # without its explanation when that is too long
    if len(text) > MEANING_CHARS:
        text = text[:MEANING_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return "%s %s" % (code, text)


def _has(model, kind):
    # Whether the model profile has an output of ``kind``; None when the trace names no known model.
    if not model:
        return None
    models = _firmware("models")
    if model not in models.NAMES:
        return None
    return models.has_kind(model, getattr(models, kind))


def _rows(recs, model):
    """The outputs panel's rows: ``(label, state(record) -> on / off /
    withdrawn / alarm / None)`` for the outputs this run has, top to bottom."""
    def flag(k):
        return lambda r: None if not isinstance(r.get(k), bool) else ("on" if r[k] else "withdrawn")

    def pre(r):
        return None if not isinstance(r.get("pre_alarm"), bool) else ("alarm" if r["pre_alarm"] else "off")

    def gate(k, allowed):
        # on; off while permitted (no input, pre-charge, ...); withdrawn when not permitted.
        def state(r):
            if not isinstance(r.get(k), bool):
                return None
            return "on" if r[k] else ("withdrawn" if r.get(allowed) is False else "off")
        return state

    def pin(k):
        return lambda r: None if not isinstance(r.get(k), bool) else ("on" if r[k] else "off")

    def present(k):
        return any(isinstance(r.get(k), bool) for r in recs)

    def port(k, kind):
        has = _has(model, kind)
        return present(k) and (has if has is not None else any(r.get(k) is True for r in recs))

    rows = [("ATD (load)", flag("atd"), present("atd")), ("ATC (charge)", flag("atc"), present("atc")),
            ("pre-alarm", pre, present("pre_alarm")),
            ("alternator port", gate("alternator_on", "alternator"), port("alternator_on", "KIND_ALTERNATOR")),
            ("System+ discharge", gate("system_discharge", "system_discharge_allowed"),
             port("system_discharge", "KIND_SYSTEM")),
            ("System+ charge", gate("system_charge", "system_charge_allowed"), port("system_charge", "KIND_SYSTEM")),
            ("contactor", flag("contactor"), present("contactor")),
            ("aux output", pin("aux_output"), present("aux_output")),
            ("alternator ATC", pin("alternator_atc"), present("alternator_atc"))]
    return [(label, state) for label, state, shown in rows if shown]


def plot(trace_path, png_path, title=None):
    """Draw the trace at ``trace_path`` to the PNG ``png_path`` (its folder made
    if need be); return ``png_path``. ``title`` replaces the scenario's name.
    Raise ``PlotError`` with a one-line message when the trace cannot be read or
    drawn, or the PNG cannot be written."""
    fig = figure(read_trace(trace_path), title, os.path.basename(trace_path))
    try:
        d = os.path.dirname(os.path.abspath(png_path))
        os.makedirs(d, exist_ok=True)
        fig.savefig(png_path, dpi=100)
    except OSError as e:
        raise PlotError("cannot write %s (%s)" % (png_path, e.strerror or e))
    finally:
        plt.close(fig)
    return png_path


def figure(recs, title=None, fallback_name="trace"):
    """The matplotlib Figure of trace records ``recs`` (its axes, in order:
    cells, bank, SoC, outputs, codes, then the current's twin)."""
    t0, t1 = recs[0]["t_s"], recs[-1]["t_s"]
    div, unit = time_unit(t1 - t0)
    first = recs[0].get("settings") if isinstance(recs[0].get("settings"), dict) else {}
    model = first.get("model") if isinstance(first.get("model"), str) else None
    notes = [(r["t_s"], str(r["note"])) for r in recs if r.get("note")]
    rows = _rows(recs, model)
    codes = _codes_in_order(recs)

    fig, axes = plt.subplots(5, 1, sharex=True, figsize=(13, 12.5 + 0.17 * len(notes)),
                             gridspec_kw={"height_ratios": [3, 2, 2, max(1.2, 0.35 * len(rows)),
                                                            max(0.8, 0.35 * len(codes))]})
    ax_cell, ax_bank, ax_soc, ax_out, ax_code = axes
    name = recs[0].get("scenario") or fallback_name
    fig.suptitle(title or "scenario: %s%s" % (name, ("   (model %s)" % model) if model else ""),
                 fontsize=13, x=0.01, ha="left")
    lines = _cells(ax_cell, recs, div)
    _bank(ax_bank, recs, div)
    _soc(ax_soc, recs, div)
    _bands(ax_out, [(label, [(s, w, state) for state in STATE_COLOUR
                             for s, w in spans(recs, lambda r, f=f, state=state: f(r) == state)])
                    for label, f in rows], div)
    ax_out.set_ylabel("outputs")
    if not rows:
        ax_out.text(0.5, 0.5, "no output in the trace", transform=ax_out.transAxes, ha="center", va="center",
                    fontsize=9, color="grey")
    ax_out.legend(handles=[Patch(color=STATE_COLOUR[s], label=s) for s in ("on", "off", "withdrawn", "alarm")],
                  loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False, handlelength=1.2)
    _bands(ax_code, [(_meaning(c), [(s, w, c[0]) for s, w in spans(recs, lambda r, c=c: c in _codes(r))])
                     for c in codes], div, SEVERITY_COLOUR)
    ax_code.set_ylabel("codes")
    if codes:
        sev = [k for k in "WAE" if any(c[0] == k for c in codes)]
        ax_code.legend(handles=[Patch(color=SEVERITY_COLOUR[k], label=SEVERITY_NAME[k]) for k in sev],
                       loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False, handlelength=1.2)
    else:
        ax_code.text(0.5, 0.5, "no code was active", transform=ax_code.transAxes, ha="center", va="center",
                     fontsize=9, color="grey")

    for t, _ in notes:
        for ax in axes:
            ax.axvline(t / div, color="#455a64", linestyle="--", linewidth=0.7, alpha=0.7)
    ax_code.set_xlabel("time since boot (%s)" % unit)
    ax_code.set_xlim(t0 / div, max(t1, t0 + 0.1) / div)
    for ax in axes:
        ax.grid(True, axis="x", alpha=0.3)
    listing = "\n".join("%d. at %s: %s" % (i, _when(t), note) for i, (t, note) in enumerate(notes, 1))
    bottom = (0.02 + 0.0105 * len(notes)) * 12.5 / fig.get_figheight() if notes else 0.0
    fig.tight_layout(rect=(0, bottom, 0.9, 0.965))
    _line_labels(fig, ax_cell, lines)
    _note_numbers(fig, ax_cell, [t / div for t, _ in notes])
    if listing:
        fig.text(0.01, 0.008, listing, fontsize=8.5, va="bottom", ha="left", family="monospace")
    return fig


def _cells(ax, recs, div):
    """The cells against the trip lines; returns the lines drawn, ``[(V, label, colour)]``."""
    t_end = recs[-1]["t_s"]
    trips = trip_lines(recs)
    values = [v for k in ("cell_min_v", "cell_max_v", "sim_cell_min_v", "sim_cell_max_v")
              for v in (r.get(k) for r in recs) if _number(v)]
    lo, hi = (min(values), max(values)) if values else (None, None)
    # Always the trip lines; a hard limit only when the cells come near it.
    shown = [k for k in TRIP_KEYS if k in trips and (
        lo is None or k in ("cell_ov_trip_v", "pre_alarm_trip_v", "cell_uv_trip_v")
        or (k == "cell_uv_hard_v" and lo < max(v for _, v in trips["cell_uv_trip_v"]) + 0.1)
        or (k == "cell_ov_hard_v" and hi > min(v for _, v in trips["cell_ov_trip_v"]) - 0.1))]
    drawn = []
    for key, label, colour, style in LINES:
        if key not in shown:
            continue
        segs = trips[key]
        for i, (t, v) in enumerate(segs):
            end = segs[i + 1][0] if i + 1 < len(segs) else t_end
            ax.hlines(v, t / div, max(end, t + 0.1) / div, colors=colour, linestyles=style, linewidth=1)
        drawn.append((segs[-1][1], "%s %.2f V" % (label, segs[-1][1]), colour))
    for key, label, colour in (("cell_max_v", "highest cell", "#1565c0"), ("cell_min_v", "lowest cell", "#2e7d32")):
        xs, ys = _series(recs, key, div)
        ax.plot(xs, ys, color=colour, linewidth=1.4, label=label + " (BMS)")
        xs, ys = _series(recs, "sim_" + key, div)
        ax.plot(xs, ys, color=colour, linewidth=0.8, linestyle=":", label=label + " (true)")
    every = [v for k in shown for _, v in trips[k]] + ([lo, hi] if values else [])
    span = max(every) - min(every)
    ax.set_ylim(min(every) - 0.06 * span - 0.02, max(every) + 0.12 * span + 0.02)
    ax.set_ylabel("cell V")
    ax.legend(loc="best", fontsize=8, ncol=2, framealpha=0.85)
    if not any(_number(r.get("cell_min_v")) for r in recs):
        ax.text(0.5, 0.5, "the BMS had no battery reading", transform=ax.transAxes, ha="center", va="center",
                fontsize=10, color="grey")
    return drawn


def _bank(ax, recs, div):
    xs, ys = _series(recs, "bank_v", div)
    ax.plot(xs, ys, color="#37474f", linewidth=1.2, label="bank V")
    ax.set_ylabel("bank V")
    cur = ax.twinx()
    xs, ys = _series(recs, "current_a", div)
    cur.plot(xs, ys, color="#ef6c00", linewidth=1.0, label="current A (+ charging)")
    cur.axhline(0, color="#ef6c00", linewidth=0.5, alpha=0.5)
    cur.set_ylabel("current A", color="#ef6c00")
    handles = ax.get_lines()[:1] + cur.get_lines()[:1]
    ax.legend(handles, [h.get_label() for h in handles], loc="best", fontsize=8, ncol=2, framealpha=0.85)
    if not any(_number(r.get("bank_v")) for r in recs):
        ax.text(0.5, 0.5, "no bank reading", transform=ax.transAxes, ha="center", va="center", fontsize=10,
                color="grey")


def _soc(ax, recs, div):
    unknown = spans(recs, lambda r: r.get("soc_pct") is None)
    for s, w in unknown:
        ax.axvspan(s / div, (s + w) / div, color="#eceff1", zorder=0)
    xs, ys = _series(recs, "soc_pct", div)
    ax.plot(xs, ys, color="#1565c0", linewidth=1.4, label="SoC (battery monitor)")
    xs, ys = _series(recs, "sim_soc_pct", div)
    ax.plot(xs, ys, color="#90a4ae", linewidth=1.0, linestyle="--", label="SoC (true)")
    handles = ax.get_lines()[:]
    if unknown:
        handles.append(Patch(color="#eceff1", label="monitor does not know it yet (until a full charge or a set)"))
    ax.legend(handles=handles, loc="best", fontsize=8, ncol=1 if unknown else 2, framealpha=0.85)
    ax.set_ylabel("SoC %")
    ax.set_ylim(-2, 102)


def _bands(ax, rows, div, colours=STATE_COLOUR):
    # rows: (label, [(start_s, length_s, colour key)]), top to bottom; one
    # broken_barh collection per row and colour.
    n = len(rows)
    for i, (label, bars) in enumerate(rows):
        y = n - 1 - i
        for key in dict.fromkeys(k for _, _, k in bars):
            ax.broken_barh([(s / div, w / div) for s, w, k in bars if k == key], (y - 0.35, 0.7),
                           color=colours.get(key, "grey"), label=label)
    ax.set_yticks(range(n))
    ax.set_yticklabels([label for label, _ in reversed(rows)], fontsize=8)
    ax.set_ylim(-0.6, max(n, 1) - 0.4)


def _line_labels(fig, ax, lines):
    # Each trip line's name at the right edge, pushed apart when lines are close.
    if not lines:
        return
    lo, hi = ax.get_ylim()
    gap = 10 * fig.dpi / 72.0 / (ax.get_window_extent().height / (hi - lo))     # 10 points, in volts
    at = blended_transform_factory(ax.transAxes, ax.transData)
    placed = []
    for v, text, colour in sorted(lines):
        y = v if not placed or v - placed[-1] >= gap else placed[-1] + gap
        placed.append(y)
        ax.text(1.005, y, text, transform=at, va="center", fontsize=8, color=colour, clip_on=False)


def _note_numbers(fig, ax, xs):
    # Step numbers above the top panel; a number too close to the one before
    # goes up a row.
    lo, hi = ax.get_xlim()
    width_px = ax.get_window_extent().width
    last = []                                          # per row: the x (px) of its last number
    for i, x in enumerate(xs, 1):
        px = (x - lo) / (hi - lo) * width_px
        row = 0
        while row < len(last) and px - last[row] < 14:
            row += 1
        if row == len(last):
            last.append(px)
        last[row] = px
        ax.annotate(str(i), xy=(x, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 3 + 11 * row),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9, fontweight="bold",
                    color="#455a64")


def _when(t):
    if t >= 3600:
        return "%d h %02d min" % (t // 3600, (t % 3600) // 60)
    if t >= 60:
        return "%d min %02d s" % (t // 60, t % 60)
    return "%.1f s" % t


def main(argv=None):
    """``python -m host_tools.plot TRACE [-o PNG] [--title TEXT]``: print the
    PNG's path and return 0, or print ``plot error: TRACE: why`` and return 2."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m host_tools.plot", description=__doc__.split("\n\n")[0])
    ap.add_argument("trace", help="a trace from python -m host_tools.sim SCENARIO --trace FILE (docs/trace.md)")
    ap.add_argument("-o", "--output", help="the PNG (default: the trace's name with .png)")
    ap.add_argument("--title", help="the title (default: the scenario's name and model)")
    a = ap.parse_args(argv)
    out = a.output or os.path.splitext(a.trace)[0] + ".png"
    try:
        plot(a.trace, out, a.title)
    except PlotError as e:
        print("plot error: %s: %s" % (a.trace, e), file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
