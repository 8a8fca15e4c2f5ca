"""``bmsctl plot TRACE``: the story of a simulated run as one PNG (matplotlib).

Five panels on one time axis:
- the cells, lowest and highest, as the firmware saw them and as they were, against
  the trip lines (the run's settings, carried by the trace's first record);
- the bank voltage and current;
- SoC, the battery monitor's against the simulator's truth;
- the outputs as bands (on = green; off = grey; withdrawn ATC/ATD = red);
- the active codes as bands, coloured by severity.

Each step's note is a numbered dashed line through every panel, and its text is
in a numbered list under the plot. ``plot(trace_path, png_path)`` raises
``PlotError`` (a ``ValueError``) for an empty or malformed trace.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# (trace field, label): the outputs drawn as bands, those the trace has (not null).
OUTPUTS = (("atd", "ATD (load)"), ("atc", "ATC (charge)"), ("pre_alarm", "pre-alarm"),
           ("alternator_on", "alternator port"), ("system_discharge", "System+ discharge"),
           ("system_charge", "System+ charge"), ("contactor", "contactor"), ("aux_output", "aux output"),
           ("alternator_atc", "alternator ATC"))
LINES = (("cell_ov_hard_v", "OV hard", "#7b1fa2", ":"), ("cell_ov_trip_v", "OV trip (ATC)", "#d32f2f", "--"),
         ("pre_alarm_trip_v", "pre-alarm", "#f9a825", "--"), ("cell_uv_trip_v", "UV trip (ATD)", "#d32f2f", "--"),
         ("cell_uv_hard_v", "UV hard", "#7b1fa2", ":"))
DEFAULT_LINES = {"cell_ov_hard_v": 3.90, "cell_ov_trip_v": 3.75, "pre_alarm_trip_v": 3.10, "cell_uv_trip_v": 2.80,
                 "cell_uv_hard_v": 2.50}
SEVERITY_COLOUR = {"W": "#f9a825", "A": "#d32f2f", "E": "#6a1b9a"}


class PlotError(ValueError):
    """The trace cannot be drawn; the message says why."""


def read_trace(path):
    """The records of a JSONL trace (a list of dicts); ``PlotError`` if empty or malformed."""
    recs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                raise PlotError("line %d is not JSON: is this a trace from bmsctl sim?" % n)
            if not isinstance(rec, dict) or not isinstance(rec.get("t_s"), (int, float)):
                raise PlotError("line %d has no t_s: is this a trace from bmsctl sim?" % n)
            recs.append(rec)
    if not recs:
        raise PlotError("the trace is empty")
    return recs


def time_unit(duration_s):
    """``(divisor, name)`` for a run of ``duration_s`` seconds."""
    if duration_s > 3 * 3600:
        return 3600.0, "h"
    if duration_s > 600:
        return 60.0, "min"
    return 1.0, "s"


def spans(recs, pred):
    """``[(start_s, length_s)]`` where ``pred(record)`` holds, each span lasting
    until the next record."""
    out = []
    start = None
    for i, r in enumerate(recs):
        on = pred(r)
        if on and start is None:
            start = r["t_s"]
        if not on and start is not None:
            out.append((start, r["t_s"] - start))
            start = None
    if start is not None:
        end = recs[-1]["t_s"]
        out.append((start, max(end - start, 0.1)))
    return out


def _series(recs, key, div):
    xs, ys = [], []
    for r in recs:
        v = r.get(key)
        xs.append(r["t_s"] / div)
        ys.append(v if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan"))
    return xs, ys


def _codes_in_order(recs):
    seen = []
    for r in recs:
        for c in r.get("codes", []):
            if c not in seen:
                seen.append(c)
    return sorted(seen, key=lambda c: ("WAE".index(c[0]) if c[0] in "WAE" else 3, c))


def plot(trace_path, png_path, title=None):
    """Draw the trace at ``trace_path`` to ``png_path``; return ``png_path``."""
    fig = figure(read_trace(trace_path), title or None, os.path.basename(trace_path))
    d = os.path.dirname(os.path.abspath(png_path))
    os.makedirs(d, exist_ok=True)
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path


def figure(recs, title=None, fallback_name="trace"):
    """The matplotlib Figure of trace records ``recs`` (its axes, in order:
    cells, bank, SoC, outputs, codes)."""
    duration = recs[-1]["t_s"] - recs[0]["t_s"]
    div, unit = time_unit(duration)
    settings = dict(DEFAULT_LINES)
    settings.update(recs[0].get("settings") or {})
    notes = [(r["t_s"], r["note"]) for r in recs if r.get("note")]
    outputs = [(k, label) for k, label in OUTPUTS if any(isinstance(r.get(k), bool) for r in recs)
               and (k not in ("alternator_on", "system_charge", "system_discharge") or any(r.get(k) for r in recs))]
    codes = _codes_in_order(recs)

    fig, axes = plt.subplots(5, 1, sharex=True, figsize=(13, 12.5),
                             gridspec_kw={"height_ratios": [3, 2, 2, max(1.2, 0.35 * len(outputs)),
                                                            max(0.8, 0.35 * len(codes))]})
    ax_cell, ax_bank, ax_soc, ax_out, ax_code = axes
    model = settings.get("model")
    name = recs[0].get("scenario") or fallback_name
    fig.suptitle(title or "scenario: %s%s" % (name, ("   (model %s)" % model) if model else ""),
                 fontsize=13, x=0.01, ha="left")

    # Cells against the trip lines.
    for key, label, colour, style in LINES:
        v = settings.get(key)
        if isinstance(v, (int, float)):
            ax_cell.axhline(v, color=colour, linestyle=style, linewidth=1)
            ax_cell.annotate("%s %.2f V" % (label, v), xy=(1.0, v), xycoords=("axes fraction", "data"),
                             xytext=(4, 0), textcoords="offset points", va="center", fontsize=8, color=colour)
    for key, label, colour in (("cell_max_v", "highest cell", "#1565c0"), ("cell_min_v", "lowest cell", "#2e7d32")):
        xs, ys = _series(recs, key, div)
        ax_cell.plot(xs, ys, color=colour, linewidth=1.4, label=label + " (BMS)")
        xs, ys = _series(recs, "sim_" + key, div)
        ax_cell.plot(xs, ys, color=colour, linewidth=0.8, linestyle=":", label=label + " (true)")
    ax_cell.set_ylabel("cell V")
    ax_cell.legend(loc="upper center", fontsize=8, ncol=4, framealpha=0.8)

    xs, ys = _series(recs, "bank_v", div)
    ax_bank.plot(xs, ys, color="#37474f", linewidth=1.2, label="bank V")
    ax_bank.set_ylabel("bank V")
    ax_cur = ax_bank.twinx()
    xs, ys = _series(recs, "current_a", div)
    ax_cur.plot(xs, ys, color="#ef6c00", linewidth=1.0, label="current A (+ charging)")
    ax_cur.axhline(0, color="#ef6c00", linewidth=0.5, alpha=0.5)
    ax_cur.set_ylabel("current A", color="#ef6c00")
    lines = ax_bank.get_lines()[:1] + ax_cur.get_lines()[:1]
    ax_bank.legend(lines, [ln.get_label() for ln in lines], loc="upper left", fontsize=8, ncol=2, framealpha=0.8)

    xs, ys = _series(recs, "soc_pct", div)
    unknown = any(r.get("soc_pct") is None for r in recs if r.get("batteries"))
    ax_soc.plot(xs, ys, color="#1565c0", linewidth=1.4,
                label="SoC (battery monitor%s)" % ("; none = unknown until a full charge or a set" if unknown else ""))
    xs, ys = _series(recs, "sim_soc_pct", div)
    ax_soc.plot(xs, ys, color="#90a4ae", linewidth=1.0, linestyle="--", label="SoC (true)")
    ax_soc.set_ylabel("SoC %")
    ax_soc.set_ylim(-2, 102)
    ax_soc.legend(loc="upper left", fontsize=8, ncol=2, framealpha=0.8)

    _bands(ax_out, [(label, [s for s in spans(recs, lambda r, k=k: r.get(k) is True)],
                     [s for s in spans(recs, lambda r, k=k: r.get(k) is False)], k) for k, label in outputs], div)
    _code_bands(ax_code, recs, codes, div)

    for i, (t, note) in enumerate(notes, 1):
        for ax in axes:
            ax.axvline(t / div, color="#455a64", linestyle="--", linewidth=0.7, alpha=0.7)
        ax_cell.annotate(str(i), xy=(t / div, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                         textcoords="offset points", ha="center", va="bottom", fontsize=9, fontweight="bold",
                         color="#455a64")
    ax_code.set_xlabel("time since boot (%s)" % unit)
    ax_code.set_xlim(recs[0]["t_s"] / div, recs[-1]["t_s"] / div)
    for ax in axes:
        ax.grid(True, axis="x", alpha=0.3)
    text = "\n".join("%d. at %s: %s" % (i, _when(t), note) for i, (t, note) in enumerate(notes, 1))
    bottom = 0.035 + 0.0105 * len(notes)
    fig.tight_layout(rect=(0, bottom, 0.93, 0.97))
    if text:
        fig.text(0.01, 0.01, text, fontsize=8.5, va="bottom", ha="left", family="monospace")
    return fig


def _when(t):
    if t >= 3600:
        return "%d h %02d min" % (t // 3600, (t % 3600) // 60)
    if t >= 60:
        return "%d min %02d s" % (t // 60, t % 60)
    return "%.1f s" % t


def _bands(ax, rows, div):
    # rows: (label, on spans, off spans, field); a withdrawn ATC / ATD is red.
    for i, (label, on, off, field) in enumerate(rows):
        y = len(rows) - 1 - i
        ax.broken_barh([(s / div, w / div) for s, w in on], (y - 0.35, 0.7), color="#43a047", label=None)
        off_colour = "#e53935" if field in ("atc", "atd", "contactor") else "#cfd8dc"
        if field == "pre_alarm":
            ax.broken_barh([(s / div, w / div) for s, w in on], (y - 0.35, 0.7), color="#fbc02d")
        ax.broken_barh([(s / div, w / div) for s, w in off], (y - 0.35, 0.7), color=off_colour)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in reversed(rows)], fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("outputs")
    ax.text(1.005, 0.5, "green on\nred withdrawn\nyellow alarm", transform=ax.transAxes, fontsize=7, va="center")


def _code_bands(ax, recs, codes, div):
    for i, c in enumerate(codes):
        y = len(codes) - 1 - i
        on = spans(recs, lambda r, c=c: c in r.get("codes", []))
        ax.broken_barh([(s / div, w / div) for s, w in on], (y - 0.35, 0.7), color=SEVERITY_COLOUR.get(c[0], "grey"))
    ax.set_yticks(range(len(codes)))
    ax.set_yticklabels(list(reversed(codes)), fontsize=8)
    ax.set_ylim(-0.6, max(len(codes), 1) - 0.4)
    ax.set_ylabel("codes")
    if not codes:
        ax.text(0.5, 0.5, "no codes", transform=ax.transAxes, ha="center", va="center", fontsize=9, color="grey")


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="python -m host_tools.plot", description=__doc__.split("\n\n")[0])
    ap.add_argument("trace")
    ap.add_argument("-o", "--output")
    a = ap.parse_args(argv)
    out = a.output or os.path.splitext(a.trace)[0] + ".png"
    try:
        plot(a.trace, out)
    except (PlotError, OSError) as e:
        print("plot error: %s: %s" % (a.trace, e), file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
