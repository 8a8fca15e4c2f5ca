"""bmsctl plot: a simulated run as one PNG whose panels carry the trace's story;
a trace it cannot draw is a one-line PlotError."""
import json
import math
import struct
import subprocess
import sys

import pytest

import host_tools
from host_tools import plot
from host_tools.scenario import check, load
from host_tools.sim.runner import Simulation

LYNX = host_tools.ROOT + "/tests/scenarios/model_lynx_smart_bms.toml"


def _run(sc, path):
    sim = Simulation(sc, trace_path=str(path), link="memory", echo=None)
    assert sim.run(), sim.failures
    return str(path)


@pytest.fixture(scope="module")
def lynx_trace(tmp_path_factory):
    return _run(load(LYNX), tmp_path_factory.mktemp("plot") / "lynx.jsonl")


@pytest.fixture(scope="module")
def steps_trace(tmp_path_factory):
    # The default model (its alternator and System+ ports); a step moves a trip line.
    sc = check({"name": "a trip line moves", "duration_s": 40, "bank": {"soc_pct": 30},
                "step": [{"t_s": 5, "load_a": 20, "note": "a load"},
                         {"t_s": 5.5, "note": "a second note, close to the first"},
                         {"t_s": 20, "settings": {"cell_uv_trip_v": 2.9, "pre_alarm_trip_v": 3.15},
                          "note": "the user raises the under-voltage lines"}]})
    return _run(sc, tmp_path_factory.mktemp("plot") / "steps.jsonl")


def _png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_png_is_written_and_is_a_png(lynx_trace, tmp_path):
    out = plot.plot(lynx_trace, str(tmp_path / "x" / "run.png"))
    assert out == str(tmp_path / "x" / "run.png")
    data = open(out, "rb").read()
    width, height = _png_size(data)
    assert width == 1300 and 1250 <= height <= 1400
    assert 50_000 < len(data) < 1_000_000


def test_the_panels_tell_the_runs_story(lynx_trace):
    recs = plot.read_trace(lynx_trace)
    fig = plot.figure(recs)
    cells, bank, soc, outs, codes = fig.axes[:5]
    assert fig._suptitle.get_text() == "scenario: model: Lynx Smart BMS   (model lynx_smart_bms)"
    div, unit = plot.time_unit(recs[-1]["t_s"])
    assert (div, unit) == (1.0, "s") and codes.get_xlabel() == "time since boot (s)"
    # The trip lines: the firmware's defaults (this run changes none); the cells
    # come near the hard under-voltage limit, far from the hard over-voltage one.
    labels = [t.get_text() for t in cells.texts]
    for label in ("UV trip (ATD) 2.80 V", "pre-alarm 3.10 V", "OV trip (ATC) 3.75 V", "UV hard 2.50 V"):
        assert label in labels
    assert not [x for x in labels if x.startswith("OV hard")]
    # The cells drawn are the trace's.
    lowest = [ln for ln in cells.get_lines() if ln.get_label() == "lowest cell (BMS)"][0]
    assert [None if math.isnan(v) else v for v in lowest.get_ydata()] == [r["cell_min_v"] for r in recs]
    assert list(lowest.get_xdata()) == [r["t_s"] for r in recs]
    # Outputs: the model's (a contactor, no alternator or System+ port).
    rows = [t.get_text() for t in outs.get_yticklabels()]
    assert rows == ["alternator ATC", "aux output", "contactor", "pre-alarm", "ATC (charge)", "ATD (load)"]
    # ATD's row: green while allowed, red where the trace has it withdrawn.
    red = [c for c in outs.collections if c.get_label() == "ATD (load)" and c.get_facecolor()[0][0] > 0.8
           and c.get_facecolor()[0][1] < 0.3]
    assert len(red) == 1
    assert _bars(red[0]) == _rounded(plot.spans(recs, lambda r: r["atd"] is False), div)
    # Codes: one row per code that was active (with its meaning), each band where the trace has it.
    order = plot._codes_in_order(recs)
    assert [t.get_text().split()[0] for t in reversed(codes.get_yticklabels())] == order
    assert "A-B05 communication with battery lost" in [t.get_text() for t in codes.get_yticklabels()]
    assert set(order) == set(c for r in recs for c in r["codes"])
    for code, bars in zip(order, codes.collections):
        assert _bars(bars) == _rounded(plot.spans(recs, lambda r: code in r["codes"]), div), code
    # Every step's note is numbered on the plot at its time and listed under it.
    notes = [(r["t_s"], r["note"]) for r in recs if r.get("note")]
    assert len(notes) == 3
    numbers = [t for t in cells.texts if t.get_text().isdigit()]
    assert [t.get_text() for t in numbers] == ["1", "2", "3"]
    assert [t.xy[0] for t in numbers] == [t / div for t, _ in notes]
    listing = fig.texts[-1].get_text().splitlines()
    assert [line.split(": ", 1)[1] for line in listing] == [n for _, n in notes]
    assert listing[1].startswith("2. at 4 min 30 s: ")
    # SoC: unknown to the monitor all run (no full charge, no set): shaded.
    assert [p.get_label() for p in soc.get_legend().get_patches()] == [
        "monitor does not know it yet (until a full charge or a set)"]


def _bars(collection):
    return sorted((round(p.get_extents().x0, 2), round(p.get_extents().width, 2)) for p in collection.get_paths())


def _rounded(spans, div):
    return sorted((round(s / div, 2), round(w / div, 2)) for s, w in spans)


def test_the_trip_lines_follow_the_settings_and_close_notes_do_not_overlap(steps_trace):
    recs = plot.read_trace(steps_trace)
    defaults = plot.default_lines()
    host_tools.use_firmware()
    import settings
    assert defaults == dict((row[0], row[2]) for row in settings.SCHEMA if row[0] in plot.TRIP_KEYS)
    lines = plot.trip_lines(recs)
    changed = [r["t_s"] for r in recs if "settings" in r][1]
    assert lines["cell_uv_trip_v"] == [(recs[0]["t_s"], 2.8), (changed, 2.9)]
    assert lines["pre_alarm_trip_v"] == [(recs[0]["t_s"], 3.1), (changed, 3.15)]
    assert lines["cell_ov_trip_v"] == [(recs[0]["t_s"], 3.75)]
    fig = plot.figure(recs)
    cells, outs = fig.axes[0], fig.axes[3]
    labels = [t.get_text() for t in cells.texts]
    assert "UV trip (ATD) 2.90 V" in labels and "pre-alarm 3.15 V" in labels
    uv = [[tuple(p) for p in seg] for c in cells.collections for seg in c.get_segments() if seg[0][1] in (2.8, 2.9)]
    assert uv == [[(recs[0]["t_s"], 2.8), (changed, 2.8)], [(changed, 2.9), (recs[-1]["t_s"], 2.9)]]
    # The model's power ports have rows though they never conducted.
    assert [t.get_text() for t in outs.get_yticklabels()] == [
        "System+ charge", "System+ discharge", "alternator port", "pre-alarm", "ATC (charge)", "ATD (load)"]
    # Notes half a second apart: the second number a row above the first.
    one, two = [t for t in cells.texts if t.get_text() in ("1", "2")]
    assert two.xyann[1] > one.xyann[1]


def test_a_trace_without_power_ports_or_with_nulls_still_plots(lynx_trace, tmp_path):
    recs = plot.read_trace(lynx_trace)
    stripped = tmp_path / "old.jsonl"
    with open(stripped, "w") as f:
        for r in recs:
            r = dict((k, v) for k, v in r.items() if not k.startswith(("alternator", "system", "sim_", "settings")))
            r.update(contactor=None, soc_pct=None, codes=None if r["t_s"] < 5 else r["codes"])
            f.write(json.dumps(r) + "\n")
    fig = plot.figure(plot.read_trace(str(stripped)))
    assert [t.get_text() for t in fig.axes[3].get_yticklabels()] == ["aux output", "pre-alarm", "ATC (charge)",
                                                                          "ATD (load)"]
    assert fig._suptitle.get_text() == "scenario: model: Lynx Smart BMS"
    nulls = tmp_path / "nulls.jsonl"
    nulls.write_text("".join(json.dumps(dict.fromkeys(recs[0], None), allow_nan=False).replace(
        '"t_s": null', '"t_s": %s' % t) + "\n" for t in (0.1, 1.0, 2.0)))
    out = plot.plot(str(nulls), str(tmp_path / "nulls.png"))
    assert _png_size(open(out, "rb").read())[0] == 1300
    fig = plot.figure(plot.read_trace(str(nulls)))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "the BMS had no battery reading" in texts and "no code was active" in texts
    assert "no output in the trace" in texts


def test_spans_follow_the_records():
    recs = [{"t_s": 0.0, "x": False}, {"t_s": 1.0, "x": True}, {"t_s": 2.5, "x": True}, {"t_s": 3.0, "x": False},
            {"t_s": 4.0, "x": True}]
    assert plot.spans(recs, lambda r: r["x"]) == [(1.0, 2.0), (4.0, 0.1)]
    assert plot.time_unit(500) == (1.0, "s") and plot.time_unit(4000) == (60.0, "min")
    assert plot.time_unit(86400) == (3600.0, "h")


BAD = [
    ("empty", b"", "the trace is empty: no record to draw"),
    ("blank", b"\n  \n", "the trace is empty: no record to draw"),
    ("not_json", b'{"t_s": 0.1}\n{"t_s": 0.2,\n', "line 2 is not JSON: is this a trace from bmsctl sim?"),
    ("no_t_s", b'{"hello": 1}\n', "line 1 has no t_s: is this a trace from bmsctl sim?"),
    ("not_object", b"[1, 2]\n", "line 1 has no t_s: is this a trace from bmsctl sim?"),
    ("t_s_text", b'{"t_s": "0.1"}\n', "line 1 has no t_s: is this a trace from bmsctl sim?"),
    ("backwards", b'{"t_s": 1.0}\n{"t_s": 0.5}\n',
     "line 2 goes back in time (t_s 0.5 after 1.0): records must be in time order"),
    ("binary", b"\x89PNG\r\n\x1a\n\xff\xfe", "not a text file: is this a trace from bmsctl sim?"),
]


@pytest.mark.parametrize("name,data,why", BAD, ids=[b[0] for b in BAD])
def test_a_trace_that_cannot_be_drawn_is_a_one_line_error(tmp_path, name, data, why):
    path = tmp_path / (name + ".jsonl")
    path.write_bytes(data)
    with pytest.raises(plot.PlotError) as e:
        plot.plot(str(path), str(tmp_path / "out.png"))
    assert str(e.value) == why and isinstance(e.value, ValueError)
    assert not (tmp_path / "out.png").exists()
    p = subprocess.run([sys.executable, "-m", "host_tools.plot", str(path)], capture_output=True, text=True,
                       cwd=host_tools.ROOT)
    assert (p.returncode, p.stdout, p.stderr) == (2, "", "plot error: %s: %s\n" % (path, why))


def test_a_missing_trace_or_an_unwritable_png_is_a_plot_error(lynx_trace, tmp_path):
    with pytest.raises(plot.PlotError, match=r"^cannot read it \(No such file or directory\)$"):
        plot.plot(str(tmp_path / "nope.jsonl"), str(tmp_path / "out.png"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(plot.PlotError, match=r"^cannot write %s/x\.png \(" % blocker):
        plot.plot(lynx_trace, str(blocker / "x.png"))


def test_the_command_line_prints_the_png(lynx_trace, tmp_path):
    out = tmp_path / "cli.png"
    p = subprocess.run([sys.executable, "-m", "host_tools.plot", lynx_trace, "-o", str(out), "--title", "mine"],
                       capture_output=True, text=True, cwd=host_tools.ROOT)
    assert (p.returncode, p.stdout, p.stderr) == (0, "%s\n" % out, "")
    assert _png_size(out.read_bytes())[0] == 1300
