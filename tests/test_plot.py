"""bmsctl plot: a simulated run as one PNG whose panels carry the trace's story."""
import json
import subprocess


import pytest

import host_tools
from host_tools import plot
from host_tools.scenario import load
from host_tools.sim.runner import Simulation

SCENARIO = host_tools.ROOT + "/tests/scenarios/model_lynx_smart_bms.toml"


@pytest.fixture(scope="module")
def lynx_trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("plot") / "lynx.jsonl"
    sim = Simulation(load(SCENARIO), trace_path=str(path), link="memory")
    assert sim.run(), sim.failures
    return str(path)


def test_the_png_is_written_and_is_a_png(lynx_trace, tmp_path):
    out = plot.plot(lynx_trace, str(tmp_path / "x" / "run.png"))
    data = open(out, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50000


def test_the_panels_tell_the_runs_story(lynx_trace):
    recs = plot.read_trace(lynx_trace)
    fig = plot.figure(recs)
    cells, bank, soc, outs, codes = fig.axes[:5]
    assert fig._suptitle.get_text() == "scenario: model: Lynx Smart BMS   (model lynx_smart_bms)"
    # The trip lines are the run's settings.
    labels = [t.get_text() for t in cells.texts]
    assert "UV trip (ATD) 2.80 V" in labels and "pre-alarm 3.10 V" in labels and "OV trip (ATC) 3.75 V" in labels
    # Outputs: the model's, not the 12/200's ports this model lacks.
    rows = [t.get_text() for t in outs.get_yticklabels()]
    assert rows == ["alternator ATC", "aux output", "contactor", "pre-alarm", "ATC (charge)", "ATD (load)"]
    # Codes: one row per code that was active, each band where the trace has it.
    code_rows = [t.get_text() for t in codes.get_yticklabels()]
    assert set(code_rows) == set(c for r in recs for c in r["codes"]) and "A-B05" in code_rows
    a_b05 = plot.spans(recs, lambda r: "A-B05" in r["codes"])
    bars = codes.collections[len(code_rows) - 1 - code_rows.index("A-B05")]
    got = sorted((round(p.get_extents().x0, 2), round(p.get_extents().width, 2)) for p in bars.get_paths())
    div = plot.time_unit(recs[-1]["t_s"])[0]
    assert got == sorted((round(s / div, 2), round(w / div, 2)) for s, w in a_b05) and len(got) >= 1
    # Every step's note is numbered on the plot and listed under it.
    notes = [r["note"] for r in recs if r.get("note")]
    assert len(notes) == 3
    numbers = [t.get_text() for t in cells.texts if t.get_text().isdigit()]
    assert numbers == ["1", "2", "3"]
    listing = fig.texts[-1].get_text().splitlines()
    assert [line.split(": ", 1)[1] for line in listing] == notes


def test_spans_follow_the_records():
    recs = [{"t_s": 0.0, "x": False}, {"t_s": 1.0, "x": True}, {"t_s": 2.5, "x": True}, {"t_s": 3.0, "x": False},
            {"t_s": 4.0, "x": True}]
    assert plot.spans(recs, lambda r: r["x"]) == [(1.0, 2.0), (4.0, 0.1)]
    assert plot.time_unit(500) == (1.0, "s") and plot.time_unit(4000) == (60.0, "min")
    assert plot.time_unit(86400) == (3600.0, "h")


def test_an_empty_or_foreign_file_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(plot.PlotError, match="the trace is empty"):
        plot.plot(str(empty), str(tmp_path / "e.png"))
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"hello": 1}) + "\n")
    with pytest.raises(plot.PlotError, match="line 1 has no t_s: is this a trace from bmsctl sim"):
        plot.plot(str(other), str(tmp_path / "o.png"))
    bmsctl = host_tools.ROOT + "/.venv/bin/bmsctl"
    p = subprocess.run([bmsctl, "plot", str(other)], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr == ("bmsctl: cannot plot %s: line 1 has no t_s: is this a trace from "
                                              "bmsctl sim?\n" % other)
    assert not (tmp_path / "other.png").exists()
