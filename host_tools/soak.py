"""The soak: the firmware lives through days of a van's life (issue 12,
docs/reliability.md, "The soak").

``make soak`` runs 30 simulated days under CPython and 3 inside MicroPython
1.27 and writes ``build/bench/soak.json``; ``tests/test_soak.py`` runs a short
version of both in ``make test``.

Each day (seeded, so any run can be replayed) has a fridge at night, a morning
load, solar charging through the day into a constant-voltage charger (which
synchronises the monitor when it reaches full), an evening inverter load (about 100–150 Ah a day in all, against 80–320 Ah of sun), a
cold night now and then, a drive with the alternator every third day (on a
profile with the port) and shore power every seventh. On top come one or two
random faults a day from the fault matrix: bit errors, lost or stale answers,
garbage, a loose contact, the cable unplugged (briefly or long enough for
A-B05), a battery dropping out, noisy cells, a frozen cell sensor.

The run is the simulator's (``host_tools/sim``): the firmware's own loop, its
link against the simulated ring, persistence on an in-memory flash. To make 30
days fit in minutes, quiet stretches are compressed: when nothing has changed
for ``ACTIVE_WINDOW_MS`` (no step, no output or code change, no fault, no
engine running) the firmware ticks every ``QUIET_TICK_MS`` instead of every
100 ms; every event and the minute after it run at the full rate. The
JSON says how much of the time was compressed.

The figures: ``days``; ``heap_growth_bytes`` (MicroPython: ``gc.mem_alloc``
after a collection, the last day's highest against the first day's highest);
``missed_ticks`` (the control periods the firmware's loop counted as missed,
``status.missed_ticks``, less those the quiet stretches skipped on purpose); ``max_soc_drift_pct`` (the monitor's SoC against the simulated
truth, once synchronised); ``output_transitions`` (per output, and the most in
one day); ``flash_writes`` (settings, history and alarm-state files, and the
most in one day). Exit status 1 if any figure is out of its bound (``BOUNDS``).
"""
import argparse
import json
import os
import random
import sys
import time

import host_tools

QUIET_TICK_MS = 1000
ACTIVE_WINDOW_MS = 60000
SAMPLE_MS = 60000
MEM_EVERY_MS = 3600000
DAY_S = 86400

# What a healthy run stays within (docs/reliability.md gives the reasons).
BOUNDS = {
    "missed_ticks": 0,
    "max_soc_drift_pct": 5.0,
    "transitions_per_output_per_day": 12,
    "flash_writes_per_day": 110,           # history at most 96 a day, settings, alarm state
    "heap_growth_bytes": 2048,
}
OUTPUTS = ("atc", "atd", "pre_alarm", "alternator_on", "system_charge", "system_discharge")

# (name, step keys while on, duration s)
FAULTS = (
    ("bit errors, 1 bit in 1 000", {"fault": "bit_errors", "bit_error_rate": 0.001}, 600),
    ("a third of the answers lost", {"fault": "drop", "drop_rate": 0.3}, 1200),
    ("garbage before every answer", {"fault": "garbage"}, 600),
    ("stale answers", {"fault": "stale"}, 60),
    ("a loose contact", {"fault": "intermittent", "answer_every_s": 2.0}, 300),
    ("the M8 cable unplugged for 20 s", {"fault": "unplug"}, 20),
    ("the M8 cable unplugged for 2 minutes (A-B05)", {"fault": "unplug"}, 120),
    ("battery 2 drops out", {"fault": "remove_battery", "battery": 2}, 45),
    ("noisy cell readings (3 mV)", {"noise_mv": 3.0}, 6 * 3600),
    ("a frozen cell sensor (E-B11)", {"frozen_cell": {"battery": 1, "cell": 2}}, 1800),
)


def day_steps(day, rng, alternator):
    """The steps of day ``day`` (0-based), absolute ``t_s``; and the faults' names."""
    d0 = day * DAY_S
    steps = []

    def at(h, note=None, **kw):
        st = {"t_s": d0 + int(h * 3600)}
        st.update(kw)
        if note:
            st["note"] = note
        steps.append(st)

    night_c = rng.choice((12.0, 10.0, 8.0, 6.0, 3.0)) if day % 5 == 4 else 14.0
    at(0, "night: the fridge", load_a=2.0, temperature_c=night_c)
    at(7, "morning: coffee and the water pump", load_a=rng.uniform(10, 25))
    at(8, load_a=2.0)
    at(10, temperature_c=20.0)
    solar = rng.uniform(15, 60)           # the day's weather: the bank is full on a good day, not on a dull one
    for h, share in ((9, 0.3), (11, 0.8), (13, 1.0), (15, 0.6), (17, 0.0)):
        at(h, charge_a=round(solar * share, 1), charge_v=14.2)
    if alternator and day % 3 == 1:
        at(10.5, "a drive: the engine runs", engine_rpm=2200.0)
        at(12.5, "the engine stops", engine_rpm=0.0)
    if day % 7 == 6:
        at(17.5, "shore power", charge_a=50.0, charge_v=14.2)
        at(20, charge_a=0.0)
    at(18, "evening: the inverter", load_a=rng.uniform(15, 45))
    at(20, load_a=6.0)
    at(23, load_a=2.0)
    names = []
    for _ in range(rng.choice((1, 1, 2))):
        name, keys, dur = FAULTS[rng.randrange(len(FAULTS))]
        start = rng.uniform(0.5, 23.0 - dur / 3600.0 - 0.2)
        # A fault never straddles a day or another fault's end: its own hour slot.
        if any(abs(start - s) < 1.0 for s in [x[0] for x in names]):
            continue
        names.append((start, name))
        on = dict(keys)
        at(start, "fault: " + name, **on)
        off = {}
        if "fault" in keys:
            off["fault"] = "none"
        if "noise_mv" in keys:
            off["noise_mv"] = 0.0
        if "frozen_cell" in keys:
            off["frozen_cell"] = dict(keys["frozen_cell"], frozen=False)
        at(start + dur / 3600.0, "fault over: " + name, **off)
    steps.sort(key=lambda st: st["t_s"])
    # Steps at the same second: merge (a step's keys apply together).
    merged = []
    for st in steps:
        if merged and merged[-1]["t_s"] == st["t_s"]:
            note = "; ".join(n for n in (merged[-1].get("note"), st.get("note")) if n)
            merged[-1].update(st)
            if note:
                merged[-1]["note"] = note
        else:
            merged.append(st)
    return merged, [n for _, n in sorted(names)]


def scenario(days, seed=1, model="smart_bms_12_200", duration_s=None):
    """The soak as a scenario dict (docs/scenarios.md); and the faults per day.
    ``duration_s``: stop earlier than ``days`` (the short soak of ``make test``)."""
    host_tools.use_firmware("esp32")
    import models as fw_models
    alternator = fw_models.has_kind(model, fw_models.KIND_ALTERNATOR)
    rng = random.Random(seed)
    steps = []
    faults = []
    for d in range(days):
        st, names = day_steps(d, rng, alternator)
        steps += st
        faults.append(names)
    if duration_s is not None:
        steps = [st for st in steps if st["t_s"] < duration_s]
    sc = {"name": "soak: %d days" % days, "duration_s": duration_s or days * DAY_S,
          "settings": {"model": model},
          "bank": {"series": 1, "parallel": 2, "cells": 4, "capacity_ah": 100, "soc_pct": 60, "r_mohm": 1.5,
                   "spread_pct": 1, "temperature_c": 14, "seed": seed},
          "plant": {"fuse": "125A"},
          "step": steps}
    return sc, faults


def run(days, interpreter="cpython", seed=1, echo=None, duration_s=None):
    """Run the soak; return its figures (a dict). ``duration_s``: only the
    start of ``days`` (the figures still say ``days``)."""
    from host_tools import scenario as scen
    from host_tools.sim.runner import Simulation
    sc, faults = scenario(days, seed, duration_s=duration_s)
    scen.check(sc)
    soak = {"quiet_tick_ms": QUIET_TICK_MS, "active_window_ms": ACTIVE_WINDOW_MS, "sample_ms": SAMPLE_MS,
            "mem_every_ms": MEM_EVERY_MS}
    sim = Simulation(sc, link="memory", echo=echo or (lambda *a: None), interpreter=interpreter, soak=soak)
    t0 = time.time()
    sim.run()
    wall = time.time() - t0
    return figures(sim, days, wall, faults, interpreter)


def figures(sim, days, wall, faults, interpreter):
    trace = sim.trace
    last = sim._last_snap               # the state after the last tick (runner: forced)
    days = max(1, -(-(sim.clock.elapsed_ms - 1000) // (DAY_S * 1000)))      # days begun
    per_day = [dict((o, 0) for o in OUTPUTS) for _ in range(days)]
    prev = {}
    for r in trace:
        d = min(days - 1, int(r["t_s"] // DAY_S))
        for o in OUTPUTS:
            v = r.get(o)
            if o in prev and v != prev[o]:
                per_day[d][o] += 1
            prev[o] = v
    drift = 0.0
    for r in trace:
        if r.get("soc_pct") is not None and r.get("sim_soc_pct") is not None:
            drift = max(drift, abs(r["soc_pct"] - r["sim_soc_pct"]))
    ticks = last.get("ticks", 0)
    missed = last.get("missed_ticks", 0) - (sim.imposed_missed - sim.last_extra // 100)
    writes = last.get("flash_writes", 0)
    sim_s = sim.clock.elapsed_ms / 1000.0
    heap = None
    if len(sim.mem_samples) >= 2:
        # The first day's highest against the last day's (a run shorter than two
        # days: its first half against its second).
        span = DAY_S * 1000 if sim_s >= 2 * DAY_S else sim_s * 500
        first = [b for t, b in sim.mem_samples if t < span]
        lastd = [b for t, b in sim.mem_samples if t >= sim_s * 1000 - span]
        if first and lastd:
            heap = max(lastd) - max(first)
    sim_days = sim_s / DAY_S
    codes_seen = sorted(set(c for r in trace for c in r["codes"]))
    out = {
        "interpreter": interpreter,
        "days": round(sim_days, 3),
        "simulated_s": sim_s,
        "wall_s": round(wall, 1),
        "x_real_time": int(sim_s / wall) if wall else None,
        "quiet_share_pct": round(100.0 * sim.quiet_ms / max(1, sim.clock.elapsed_ms), 1),
        "ticks": ticks,
        "missed_ticks": missed,
        "heap_growth_bytes": heap,
        "heap_samples": len(sim.mem_samples),
        "max_soc_drift_pct": round(drift, 2),
        "synchronisations": last.get("syncs", 0),
        "output_transitions": dict((o, sum(p[o] for p in per_day)) for o in OUTPUTS),
        "max_output_transitions_per_day": max(max(p.values()) for p in per_day),
        "flash_writes": writes,
        "flash_writes_per_day": round(writes / sim_days, 1),
        "codes_seen": codes_seen,
        "faults": sum(len(f) for f in faults),
        "fault_kinds": sorted(set(n for f in faults for n in f)),
        "failures": list(sim.failures),
    }
    return out


def problems(fig):
    """The figures out of ``BOUNDS``, as sentences (empty when the soak passed)."""
    out = []
    if fig["missed_ticks"] > BOUNDS["missed_ticks"]:
        out.append("%d missed ticks" % fig["missed_ticks"])
    if fig["synchronisations"] and fig["max_soc_drift_pct"] > BOUNDS["max_soc_drift_pct"]:
        out.append("SoC drifted %.2f %% from the truth (bound %s %%)" % (fig["max_soc_drift_pct"],
                                                                          BOUNDS["max_soc_drift_pct"]))
    if fig["max_output_transitions_per_day"] > BOUNDS["transitions_per_output_per_day"]:
        out.append("an output changed %d times in one day (bound %d)" % (
            fig["max_output_transitions_per_day"], BOUNDS["transitions_per_output_per_day"]))
    if fig["flash_writes_per_day"] > BOUNDS["flash_writes_per_day"]:
        out.append("%.1f flash writes a day (bound %d)" % (fig["flash_writes_per_day"], BOUNDS["flash_writes_per_day"]))
    if fig["heap_growth_bytes"] is not None and fig["heap_growth_bytes"] > BOUNDS["heap_growth_bytes"]:
        out.append("the heap grew %d bytes (bound %d)" % (fig["heap_growth_bytes"], BOUNDS["heap_growth_bytes"]))
    out += fig["failures"]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=30, help="days under CPython (default 30)")
    ap.add_argument("--mpy-days", type=int, default=3, help="days inside MicroPython (default 3; 0: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(host_tools.ROOT, "build", "bench", "soak.json"))
    a = ap.parse_args(argv)
    result = {}
    bad = []
    for interp, days in (("cpython", a.days), ("micropython", a.mpy_days)):
        if days <= 0:
            continue
        print("soak: %d days under %s ..." % (days, interp), flush=True)
        fig = run(days, interp, a.seed)
        result[interp] = fig
        p = problems(fig)
        bad += ["%s: %s" % (interp, x) for x in p]
        print("  %s days in %.0f s (%s x real time, %.1f %% of the time compressed); missed ticks %d; "
              "heap growth %s; SoC drift %.2f %% (%d synchronisations); output changes %s (most in a day %d); "
              "flash writes %d (%.1f a day); %d faults; codes seen %s" % (
                  fig["days"], fig["wall_s"], fig["x_real_time"], fig["quiet_share_pct"], fig["missed_ticks"],
                  "%d B" % fig["heap_growth_bytes"] if fig["heap_growth_bytes"] is not None else "n/a (CPython)",
                  fig["max_soc_drift_pct"], fig["synchronisations"], fig["output_transitions"],
                  fig["max_output_transitions_per_day"], fig["flash_writes"], fig["flash_writes_per_day"],
                  fig["faults"], " ".join(fig["codes_seen"])), flush=True)
    # The keys at the top: the CPython run's, the heap from MicroPython.
    top = dict(result.get("cpython") or result.get("micropython"))
    mp = result.get("micropython")
    if mp is not None:
        top["heap_growth_bytes"] = mp["heap_growth_bytes"]
        top["missed_ticks"] = top["missed_ticks"] + mp["missed_ticks"]
    top["bounds"] = BOUNDS
    top["by_interpreter"] = result
    top["passed"] = not bad
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(top, f, indent=1, sort_keys=True)
    print("-> %s" % a.out)
    for x in bad:
        print("SOAK FAILED: " + x)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
