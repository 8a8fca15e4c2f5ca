"""Benchmarks: ``python -m host_tools.bench`` (``make bench``).

alternator: the alternator port's regulation on the simulated plant, a step
response per fuse row plus an engine-speed step and the charge limit; writes
``build/bench/alternator.json`` (``{"rows": [{"fuse", "limit_a", "overshoot_pct",
"settle_s", "steady_error_pct", ...}], "engine_step": {...}, "charge_limit": {...}}``;
goals per row: overshoot <= 5 %, settling <= 2 s, steady error <= 2 %).

soc: the battery monitor's SoC against the simulator's true SoC over 10 full
cycles with a current sensor of 0.5 % gain error and 0.1 A offset; writes
``build/bench/soc.json`` with key ``max_error_pct`` (goal <= 2 %).

ble: the control tick's period and duration in the virtual board with
Bluetooth off, advertising, and with four paired phones busy
(``host_tools/bench_ble.py``); writes ``build/bench/ble.json``.

workloads: bytes allocated per steady-state tick under each of a table of
workloads (``host_tools/mpy/bench_workloads.py``: quiet, alarms in both pre-alarm
modes, a noisy link, link lost, 48 V at 13 kW, late ticks, 50 x 16 cells, BLE
advertising, the regulator); writes ``build/bench/esp32.json`` key
``alloc_bytes_per_tick``.

memory: the control tick under real MicroPython 1.27 (WebAssembly port, 32-bit
like the ESP32) with 5 batteries (a Smart BMS 12/200): bytes allocated per steady-state tick (goal 0),
heap in use after boot + 1 000 ticks (goal <= 32 KB), tick time. Writes
``build/bench/memory.json`` with keys ``interpreter``, ``batteries``,
``alloc_bytes_per_tick``, ``heap_used_bytes``, ``tick_ms`` and more.

``heap_used_bytes`` is what the firmware's objects hold (buffers, two banks,
settings, tables) after boot and the ticks; the firmware's own bytecode, which a
production image freezes into flash, is reported apart as ``code_heap_bytes``
(measured with the modules loaded from source). The tick time is the WebAssembly
interpreter's on this machine, not the ESP32's.
"""
import ast
import json
import os
import sys

import host_tools
from host_tools.mpy_bridge import MicroPython


def tick_modules(root="bms"):
    """The firmware modules the control tick is made of: ``root`` and everything it
    imports from firmware/, in dependency order (found from the sources, so a module
    added to the core is counted without a change here)."""
    order = []

    def visit(name, seen):
        path = os.path.join(host_tools.FIRMWARE_DIR, name + ".py")
        if name in seen or not os.path.exists(path):
            return
        seen.add(name)
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in tree.body:                      # module-level imports only: the tick's own
            if isinstance(node, ast.Import):
                for a in node.names:
                    visit(a.name, seen)
            elif isinstance(node, ast.ImportFrom) and node.module:
                visit(node.module, seen)
        order.append(name)

    visit(root, set())
    return tuple(order)


# The tick's modules, and the two the board needs to run it (board file, pins).
FIRMWARE_MODULES = tick_modules() + tuple(m for m in ("board", "hw") if m not in tick_modules())
BENCH_DIR = os.path.join(host_tools.ROOT, "build", "bench")


def _heap(mp):
    return int(mp.run("import gc\ngc.collect()\nprint(gc.mem_alloc())").strip())


def memory(batteries=5, ticks=1000, version="1.27"):
    mp = MicroPython(version)
    try:
        mp.load_firmware(extra=[os.path.join(host_tools.ROOT, "host_tools", "mpy", n) for n in ("bench_memory.py", "mp_ring.py")])
        mp.reset()
        mp.run("import machine, json")           # the pin mock: on the board, C code
        base = _heap(mp)
        mp.run("\n".join("import " + m for m in FIRMWARE_MODULES))
        code = _heap(mp) - base
        mp.run("import bench_memory")
        with_bench = _heap(mp)
        result = json.loads(mp.run("print(json.dumps(bench_memory.bench(%d, %d)))" % (batteries, ticks)))
        result["heap_used_bytes"] = _heap(mp) - with_bench
        result["code_heap_bytes"] = code
        result["goal_alloc_bytes_per_tick"] = 0
        result["goal_heap_used_bytes"] = 32 * 1024
        return result
    finally:
        mp.close()


WORKLOADS = ("quiet", "alarm_continuous", "alarm_intermittent", "noisy_link", "link_lost", "bank_48v_13kw",
             "late_ticks", "bank_50x16", "ble_advertising", "regulator")


def workloads(ticks=200, version="1.27"):
    """Bytes allocated per steady-state tick under each workload of
    ``host_tools/mpy/bench_workloads.py`` (issue 10; goal 0 each), under MicroPython ``version``."""
    mp = MicroPython(version)
    try:
        mp.load_firmware(extra=[os.path.join(host_tools.ROOT, "host_tools", "mpy", n)
                                for n in ("bench_workloads.py", "mp_ring.py")])
        out = json.loads(mp.run("import bench_workloads, json\nprint(json.dumps(bench_workloads.run(%d)))" % ticks))
        out["frame_tick_ms_wasm"] = json.loads(mp.run(
            "print(json.dumps({'20x4': bench_workloads.frame_tick_ms(20, 4), "
            "'50x16': bench_workloads.frame_tick_ms(50, 16)}))"))
        printed = mp.run("print('@@%d' % bench_workloads.diag_garbage(50, 16))")
        out["diag_garbage_bytes"] = int(printed.rsplit("@@", 1)[1].split()[0])
        return out
    finally:
        mp.close()


def soc_accuracy(cycles=10, gain_error_pct=0.5, offset_a=0.1):
    """SoC error against the simulator's true SoC over ``cycles`` full cycles with
    a current sensor of the given gain error and offset (issue 4's benchmark).

    Each cycle: a 14.2 V constant-voltage charger of 200 A until the monitor
    synchronises, then a 200 A load until the monitor says 20 %. The error counts
    from the first synchronisation (before it the SoC is unknown, not wrong).
    """
    from host_tools import scenario as scen
    from host_tools.sim import Simulation
    steps = []
    for _ in range(cycles):
        steps.append({"charge_a": 200, "charge_v": 14.2, "load_a": 0})
        steps.append({"until": "synchronised", "timeout_s": 20000, "charge_a": 0, "load_a": 200})
        steps.append({"until": "soc_below:20", "timeout_s": 20000})
    sc = scen.check({"name": "soc accuracy", "duration_s": cycles * 20000, "end_after_s": 0,
                     "bank": {"parallel": 2, "capacity_ah": 100, "soc_pct": 50, "r_mohm": 1.0, "seed": 12,
                              "current_gain_error_pct": gain_error_pct, "current_offset_a": offset_a},
                     "step": steps})
    sim = Simulation(sc, link="memory", echo=None)
    ok = sim.run()
    errors = [abs(r["soc_pct"] - r["sim_soc_pct"]) for r in sim.trace if r["soc_pct"] is not None]
    syncs = sim.trace[-1]["synchronisations"]
    return {"cycles": cycles, "gain_error_pct": gain_error_pct, "offset_a": offset_a,
            "synchronisations": syncs, "simulated_h": round(sim.clock.elapsed_ms / 3.6e6, 2),
            "max_error_pct": round(max(errors), 3), "goal_max_error_pct": 2.0,
            "run_ok": ok and syncs >= cycles, "failures": sim.failures}


def alternator():
    """The regulation benchmark (host_tools/bench_alternator.py); prints the table."""
    from host_tools import bench_alternator as ba
    res = ba.run()
    path = os.path.join(BENCH_DIR, "alternator.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=2, sort_keys=True)
    print("alternator port regulation (firmware + simulated plant, ADC noise %.0f mV; settled = within %.0f %%):"
          % (res["adc_noise_mv"], res["band_pct"]))
    print("  %-7s %8s %12s %10s %16s" % ("fuse", "limit A", "overshoot %", "settle s", "steady error %"))
    for r in res["rows"]:
        print("  %-7s %8d %12.2f %10.2f %16.2f" % (r["fuse"], r["limit_a"], r["overshoot_pct"], r["settle_s"],
                                                  r["steady_error_pct"]))
    print("  goals: overshoot <= 5 %, settling <= 2 s, steady error <= 2 % per row")
    e = res["engine_step"]
    print("  engine speed step 750 -> 2500 rpm: %.1f A at idle (input held >= %.2f V), then overshoot %.2f %%, "
          "settle %.2f s, steady error %.2f %%" % (e["idle_a"], e["idle_input_min_v"], e["overshoot_pct"],
                                                 e["settle_s"], e["steady_error_pct"]))
    c = res["charge_limit"]
    if c.get("reached"):
        print("  bank reaches the 14.2 V charge limit (the firmware decides at %.1f s, the bank at %.3f V): port "
              "current below 0.5 A %.2f s later, lithium peak %.3f V" % (
                  c["at_s"], c["lithium_at_decision_v"], c["open_after_s"], c["peak_lithium_v"]))
    else:
        print("  bank never reached the charge limit")
    print("wrote " + os.path.relpath(path, host_tools.ROOT))
    return ba.meets_goals(res)


def ble():
    """The tick's jitter with Bluetooth busy (host_tools/bench_ble.py); prints the table."""
    from host_tools import bench_ble
    res = bench_ble.run()
    path = os.path.join(BENCH_DIR, "ble.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=2, sort_keys=True)
    print("control tick with Bluetooth (virtual board, %d s per phase; ms on this host's WebAssembly):"
          % res["seconds_per_phase"])
    print("  %-12s %22s %22s %20s" % ("phase", "period mean/min/max", "tick mean/p99/max", "radio events max"))
    for name in ("off", "advertising", "four_phones"):
        p = res["phases"][name]
        ev = p["radio_events"]
        print("  %-12s %8.2f %6.2f %6.2f %8.3f %6.3f %6.3f %20s" % (
            name, p["period"]["mean_ms"], p["period"]["min_ms"], p["period"]["max_ms"], p["tick"]["mean_ms"],
            p["tick"]["p99_ms"], p["tick"]["max_ms"], "-" if ev is None else "%.3f" % ev["max_ms"]))
    r = res["phases"]["radio"]
    print("  radio: %d advertisements set, %d notifications, %d commands answered, %d refused"
          % (r["adverts"], r["notifies"], r["commands_ok"], r["refused"]))
    print("wrote " + os.path.relpath(path, host_tools.ROOT))
    four = res["phases"]["four_phones"]
    return r["commands_ok"] > 0 and r["refused"] == 0 and four["tick"]["max_ms"] * 30 < 100


def esp32(interpreter):
    """Issue 10's figures (host_tools/esp32_budget.py), printed as one table with
    their goals and written to build/bench/esp32.json."""
    from host_tools import esp32_budget as E
    w = workloads()
    table = dict((name, w[name]) for name in WORKLOADS)
    per_crc = w["noisy_link"] * 200 / w["noisy_link_crc_failures"] if w["noisy_link_crc_failures"] else 0
    ft = w["frame_tick_ms_wasm"]
    cal = E.calibration()
    lo, hi = cal["factor"]
    est = dict((k, [round(ft[k]["mean_ms"] * lo, 1), round(ft[k]["mean_ms"] * hi, 1)]) for k in ft)
    lat = E.latency()
    hp = E.heap()
    refresh = E.measured_refresh_hz(20)
    diag_garbage = w.get("diag_garbage_bytes")
    goals = {"frame_tick_ms_esp32": {"20x4": 20, "50x16": 100}, "refresh_hz_20x4": 5, "latency_ms_p99": 300,
             "heap_after_boot_bytes": 64 * 1024, "heap_min_free_bytes": 16 * 1024, "diag_garbage_bytes": 2048,
             "alloc_bytes_per_tick": 0}
    esp = {"interpreter": interpreter, "alloc_bytes_per_tick": table,
           "noisy_link_bytes_per_crc_failure": per_crc,
           "frame_tick_ms_wasm": ft, "calibration": cal,
           "frame_tick_ms_esp32_est": dict((k, est[k][1]) for k in est), "frame_tick_ms_esp32_range": est,
           "refresh_hz_20x4": refresh, "refresh": {"20x4": E.refresh_hz(20, 4), "50x4": E.refresh_hz(50, 4),
                                                   "50x16": E.refresh_hz(50, 16)},
           "latency_ms_p50": lat["p50"], "latency_ms_p99": lat["p99"], "latency_ms_max": lat["max"], "latency": lat,
           "heap_after_boot_bytes": hp["after_boot_bytes"], "heap_min_free_bytes": hp["min_free_bytes"], "heap": hp,
           "diag_garbage_bytes": diag_garbage, "goals": goals}
    esp["allocation_ok"] = all(table[k] == 0 for k in WORKLOADS if k != "noisy_link") and per_crc <= 32
    path = os.path.join(BENCH_DIR, "esp32.json")
    with open(path, "w") as f:
        json.dump(esp, f, indent=2, sort_keys=True)

    def row(name, value, goal, met):
        print("  %-38s %-22s %-14s %s" % (name, value, goal, "met" if met else "NOT MET"))
    print("ESP32 budget (%s; ESP32 = WebAssembly x %.1f-%.1f, pystone %d/s here vs %d-%d/s published):"
          % (interpreter, lo, hi, cal["wasm_pystones"], cal["esp32_pystones"][0], cal["esp32_pystones"][1]))
    print("  %-38s %-22s %-14s %s" % ("figure", "measured", "goal", ""))
    for name in WORKLOADS:
        v = table[name]
        if name == "noisy_link":
            row("alloc/tick " + name, "%.1f B (%.0f B/CRC fail)" % (v, per_crc), "0 (32/fail)", per_crc <= 32)
        else:
            row("alloc/tick " + name, "%.1f B" % v, "0 B", v == 0)
    for k in ("20x4", "50x16"):
        row("frame tick %s (ESP32 est.)" % k, "%.0f-%.0f ms (%.2f here)" % (est[k][0], est[k][1], ft[k]["mean_ms"]),
            "<= %d ms" % goals["frame_tick_ms_esp32"][k], est[k][1] <= goals["frame_tick_ms_esp32"][k])
    row("refresh 20x4", "%.1f Hz" % refresh, ">= 5 Hz", refresh >= 5)
    row("latency beyond delay p50/p99/max", "%.0f/%.0f/%.0f ms" % (lat["p50"], lat["p99"], lat["max"]), "p99 <= 300 ms",
        lat["p99"] <= 300)
    row("heap in use after boot (.mpy)", "%d B" % hp["after_boot_bytes"], "<= 65536 B", hp["after_boot_bytes"] <= 65536)
    row("heap min free (80 KB heap model)", "%d B" % hp["min_free_bytes"], ">= 16384 B", hp["min_free_bytes"] >= 16384)
    if diag_garbage is not None:
        row("diag.status() garbage 50x16", "%d B" % diag_garbage, "<= 2048 B", diag_garbage <= 2048)
    print("wrote " + os.path.relpath(path, host_tools.ROOT))
    return esp


def main():
    os.makedirs(BENCH_DIR, exist_ok=True)
    ble_ok = ble()
    alt_ok = alternator()
    s = soc_accuracy()
    path = os.path.join(BENCH_DIR, "soc.json")
    with open(path, "w") as f:
        json.dump(s, f, indent=2, sort_keys=True)
    print("SoC accuracy (%d cycles, %.1f h simulated, %d synchronisations; sensor gain error %.1f %%, offset %.1f A):"
          % (s["cycles"], s["simulated_h"], s["synchronisations"], s["gain_error_pct"], s["offset_a"]))
    print("  max |SoC - true SoC|              %8.3f %%      (goal <= 2 %%)" % s["max_error_pct"])
    print("wrote " + os.path.relpath(path, host_tools.ROOT))
    r = memory()
    path = os.path.join(BENCH_DIR, "memory.json")
    with open(path, "w") as f:
        json.dump(r, f, indent=2, sort_keys=True)
    print("memory benchmark (%s, %d batteries, %d ticks):" % (r["interpreter"], r["batteries"], r["ticks"]))
    print("  allocated per steady-state tick  %8.1f bytes   (goal 0)" % r["alloc_bytes_per_tick"])
    print("  heap in use after boot + ticks   %8d bytes   (goal <= 32768)" % r["heap_used_bytes"])
    print("  firmware bytecode in the heap    %8d bytes   (frozen into flash in a production image)" % r["code_heap_bytes"])
    print("  tick time                        %8.3f ms      (WebAssembly on this host, not the ESP32)" % r["tick_ms"])
    print("  alternator duty changes          %8d          (the regulator moved every measured tick)"
          % r["alternator_duty_changes"])
    print("wrote " + os.path.relpath(path, host_tools.ROOT))
    esp = esp32(r["interpreter"])
    ok = r["alloc_bytes_per_tick"] == 0 and r["heap_used_bytes"] <= 32 * 1024
    ok = ok and s["run_ok"] and s["max_error_pct"] <= 2.0 and alt_ok and ble_ok and esp["allocation_ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
