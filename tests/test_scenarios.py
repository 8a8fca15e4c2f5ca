"""Every scenario file runs over a real pty and its expectations hold; and an
expectation that does not hold is reported."""
import glob
import json
import os

import pytest

import host_tools
from host_tools import scenario as scen
from host_tools import sim as sim_mod
from simutil import run

FILES = sorted(glob.glob(os.path.join(host_tools.ROOT, "host_tools", "scenarios", "*.toml")) +
               glob.glob(os.path.join(host_tools.ROOT, "tests", "scenarios", "*.toml")))


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(p) for p in FILES])
def test_scenario_passes_over_a_pty(path):
    sim = run(scen.load(path), link="pty")
    assert sim.failures == []
    assert sim.trace


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(p) for p in FILES])
def test_scenario_passes_with_the_firmware_inside_micropython(path):
    sim = run(scen.load(path), interpreter="micropython")
    assert sim.app is None                   # no CPython firmware object: it ran in MicroPython
    assert sim.failures == []
    assert sim.trace


def test_both_interpreters_write_the_same_trace(tmp_path):
    path = os.path.join(host_tools.ROOT, "tests", "scenarios", "link_unplugged.toml")
    a, b = tmp_path / "cpython.jsonl", tmp_path / "micropython.jsonl"
    run(scen.load(path), link="pty", trace_path=str(a))
    run(scen.load(path), interpreter="micropython", trace_path=str(b))
    assert a.read_text() == b.read_text()
    assert len(a.read_text().splitlines()) > 190


def test_default_scenario_trace_tells_the_story(tmp_path):
    trace = tmp_path / "t.jsonl"
    assert sim_mod.main([os.path.join(host_tools.ROOT, "host_tools", "scenarios", "default.toml"),
                         "--trace", str(trace), "--live", "no"]) == 0
    recs = [json.loads(line) for line in open(trace)]
    for field in ("t_s", "bank_v", "current_a", "cell_min_v", "cell_max_v", "temp_min_c", "temp_max_c",
                  "batteries", "atc", "atd", "pre_alarm", "remote_on", "codes"):
        assert all(field in r for r in recs), field
    gaps = [b["t_s"] - a["t_s"] for a, b in zip(recs, recs[1:])]
    assert max(gaps) <= 1.0 + 1e-9 and min(gaps) > 0
    pre_on = next(r["t_s"] for r in recs if r["pre_alarm"])
    atd_off = next(r for r in recs if r["t_s"] > 1 and not r["atd"])
    assert atd_off["t_s"] - pre_on >= 30 and "A-B01" in atd_off["codes"]
    assert any(r["atd"] for r in recs if r["t_s"] > atd_off["t_s"])
    assert any(not r["atc"] and "A-B02" in r["codes"] for r in recs)
    assert any(not r["atc"] and "A-B10" in r["codes"] and r["temp_min_c"] < 5 for r in recs)


def test_a_false_expectation_fails_the_run():
    sc = {"name": "wrong", "duration_s": 5, "end_after_s": 5, "bank": {"soc_pct": 50}, "step": [{}],
          "expect": [{"type": "edge", "field": "atd", "to": False, "codes": ["A-B01"]},
                     {"type": "final", "atd": False}]}
    sim = run(sc)
    assert len(sim.failures) == 2


def test_a_step_that_never_comes_fails_the_run():
    sc = {"name": "stuck", "duration_s": 30, "bank": {"soc_pct": 50},
          "step": [{"until": "atd_off", "timeout_s": 10}]}
    sim = run(sc)
    assert any("timed out at 10.1 s: its timeout_s 10 ran out, counted from 0.0 s" in f for f in sim.failures)


@pytest.mark.parametrize("bad,words", [
    ({"duration_s": 0}, "duration_s"),
    ({"duration_s": 5, "bank": {"cellz": 4}}, "unknown key"),
    ({"duration_s": 5, "step": [{"remote": "sideways"}]}, "remote must be"),
    ({"duration_s": 5, "step": [{"until": "lunch"}]}, "until must be"),
    ({"duration_s": 5, "expect": [{"type": "vibes"}]}, "type must be"),
    ({"duration_s": 5, "bank": {"series": 10, "parallel": 6}}, "at most 50"),
])
def test_bad_scenarios_are_refused_with_a_reason(bad, words):
    with pytest.raises(scen.ScenarioError, match=words):
        scen.check(bad)


def test_bad_settings_in_a_scenario_are_refused():
    with pytest.raises(scen.ScenarioError, match="\\[settings\\]: cell_uv_trip_v must be within"):
        scen.check({"name": "bad", "duration_s": 5, "settings": {"cell_uv_trip_v": 9}, "step": [{}]})


def test_the_command_line_rejects_a_missing_file(capsys):
    assert sim_mod.main(["/nonexistent.toml"]) == 2
    assert "scenario error" in capsys.readouterr().err
