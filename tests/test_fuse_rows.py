"""The limit for every fuse row (behaviour §3), as a scenario run under CPython
over a pty and with the firmware inside MicroPython: the fuse setting matches
the installed fuse (the shunt), the engine runs at cruise, and the port holds
the row's limit within 2 % and never passes it by more than 5 %."""
import pytest

from host_tools import scenario as scen
from simutil import run

ROWS = [("125A", 100), ("100A", 90), ("80A", 60), ("60A", 50), ("2x30A", 40), ("2x20A", 25), ("2x15A", 20),
        ("2x10A", 12), ("2x7.5A", 9)]


def _scenario(fuse, limit_a):
    return scen.check({
        "name": "fuse row %s" % fuse, "duration_s": 12, "settings": {"fuse_type": fuse},
        "bank": {"soc_pct": 40, "capacity_ah": 200, "parallel": 2},
        "plant": {"engine_rpm": 2500, "fuse": fuse, "rated_a": 150},
        "expect": [
            {"type": "range", "field": "sim_alternator_a", "min": limit_a * 0.98, "max": limit_a * 1.02,
             "after_s": 6, "label": "holds the limit"},
            {"type": "range", "field": "sim_alternator_a", "max": limit_a * 1.05, "label": "never 5 % over"},
            {"type": "final", "alternator_limit_a": float(limit_a), "alternator_limit_why": "fuse",
             "alternator_state": "on"},
            {"type": "range", "field": "alternator_pct", "min": 98, "max": 101, "after_s": 6,
             "label": "the status shows the current as % of the row's limit"}]})


@pytest.mark.parametrize("fuse,limit_a", ROWS)
def test_each_fuse_row_limit_over_a_pty(fuse, limit_a):
    sim = run(_scenario(fuse, limit_a), link="pty")
    assert sim.failures == []


@pytest.mark.parametrize("fuse,limit_a", ROWS)
def test_each_fuse_row_limit_inside_micropython(fuse, limit_a):
    sim = run(_scenario(fuse, limit_a), interpreter="micropython")
    assert sim.app is None and sim.failures == []


def test_a_fuse_setting_bigger_than_the_installed_fuse_is_caught_by_the_scenario():
    """The check can fail: a 125 A setting over an installed 2x7.5 A fuse
    measures 12x too much current, so the port holds far less than the row's 100 A."""
    sc = _scenario("125A", 100)
    sc["plant"]["fuse"] = "2x7.5A"
    sim = run(sc, link="memory")
    assert any("holds the limit" in f for f in sim.failures)
