"""The soak, short (issue 12; host_tools/soak.py, docs/reliability.md).

``make soak`` runs 30 days under CPython and 3 inside MicroPython; here a day
under CPython and the first hours of one inside MicroPython, with the same
bounds. The day has the load cycle, the solar charge to full (a
synchronisation), a fault, and the figures must be real ones: ticks counted,
flash written, outputs switched."""
from host_tools import soak


def test_the_bounds_catch_what_they_are_for():
    good = {"missed_ticks": 0, "synchronisations": 1, "max_soc_drift_pct": 1.0,
            "max_output_transitions_per_day": 4, "flash_writes_per_day": 50.0, "heap_growth_bytes": 0,
            "failures": []}
    assert soak.problems(good) == []
    for key, bad, words in (("missed_ticks", 3, "3 missed ticks"), ("max_soc_drift_pct", 7.5, "SoC drifted 7.50"),
                            ("max_output_transitions_per_day", 40, "changed 40 times in one day"),
                            ("flash_writes_per_day", 500.0, "500.0 flash writes a day"),
                            ("heap_growth_bytes", 4096, "the heap grew 4096 bytes"),
                            ("failures", ["step 3 timed out"], "step 3 timed out")):
        fig = dict(good)
        fig[key] = bad
        p = soak.problems(fig)
        assert len(p) == 1 and words in p[0], (key, p)


def test_the_days_are_seeded_and_each_has_its_cycle_and_faults():
    a, fa = soak.scenario(30, seed=1)
    b, fb = soak.scenario(30, seed=1)
    assert a == b and fa == fb
    assert sum(len(f) for f in fa) >= 30
    kinds = set(n for f in fa for n in f)
    assert len(kinds) >= 8                               # most of the fault matrix over a month
    notes = [st.get("note", "") for st in a["step"]]
    assert sum("a drive" in n for n in notes) == 10       # every third day
    assert sum("shore power" in n for n in notes) == 4    # every seventh
    times = [st["t_s"] for st in a["step"]]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_a_day_under_cpython():
    fig = soak.run(1)
    assert soak.problems(fig) == [], fig
    assert fig["synchronisations"] >= 1 and fig["faults"] >= 1
    assert fig["ticks"] > 80000 and fig["flash_writes"] > 10
    assert fig["output_transitions"]["atd"] >= 1 or fig["output_transitions"]["pre_alarm"] >= 1
    assert 80 <= fig["quiet_share_pct"] <= 99


def test_the_first_hours_of_a_day_inside_micropython():
    fig = soak.run(1, "micropython", duration_s=8 * 3600)
    assert soak.problems(fig) == [], fig
    assert fig["heap_samples"] >= 6 and fig["heap_growth_bytes"] is not None
    assert fig["ticks"] > 8000
