"""Under real MicroPython, a steady-state control tick allocates nothing on the heap.

Not a timing test: allocation is deterministic. The figures themselves come from
``make bench``.
"""
import json

import pytest

from host_tools import bench, mpy_bridge


@pytest.mark.parametrize("version", sorted(mpy_bridge.VERSIONS))
def test_steady_state_tick_allocates_nothing_with_20_and_50_batteries(version):
    r = bench.memory(batteries=20, ticks=300, version=version)
    assert r["interpreter"].startswith("micropython " + version)
    assert r["frames_ok"] > 30
    assert r["alloc_bytes_per_tick"] == 0, r
    assert 0 < r["heap_used_bytes"] <= 32 * 1024, r
    r50 = bench.memory(batteries=50, ticks=100, version=version)
    assert r50["alloc_bytes_per_tick"] == 0, r50


def test_the_probe_can_see_an_allocation():
    """Proof the measurement is live: a tick that allocates is reported."""
    mp = mpy_bridge.MicroPython()
    try:
        mp.load_firmware(extra=["host_tools/mpy/bench_memory.py", "host_tools/mpy/mp_ring.py"])
        out = mp.run("import bms, bench_memory, json\n"
                     "real = bms.Bms.tick\n"
                     "def leaky(self, now):\n"
                     "    self.junk = [now] * 8\n"
                     "    real(self, now)\n"
                     "bms.Bms.tick = leaky\n"
                     "print(json.dumps(bench_memory.bench(5, 50)))")
        assert json.loads(out)["alloc_bytes_per_tick"] > 0
    finally:
        mp.close()


PATHS = r'''
import gc, bench_memory, inbox, mp_ring
from bench_workloads import Silent   # a ring that never answers


def run(app, k):
    total = 0
    n = app._last_ms
    for _ in range(k):
        n = (n + 100) & ((1 << 30) - 1)
        gc.disable()
        a = gc.mem_alloc()
        app.tick(n)
        total += gc.mem_alloc() - a
        gc.enable()
    return total


def booted(uart=None):
    bench_memory.bench(4, 10)
    app = bench_memory.APP[-1]
    mp_ring.quiet_pins(app.hw)                     # stand-ins that log nothing: on the board, C
    app.inbox.post((inbox.SETTINGS, {"pre_alarm_mode": "intermittent"}))
    run(app, 2)                                    # a settings change may allocate: not measured
    if uart is not None:
        app.hw.uart = uart
        app.link.uart = uart
        run(app, 12)       # the swapped-in ring answers its first poll (views made on first use)
    return app


out = {}
low = mp_ring.QuietUart(mp_ring.frame(0, [mp_ring.record(i + 1, (3300, 2700, 3302, 3303), (200,),
                                                              current_ma=-2000) for i in range(4)]))
app = booted(low)
out["low_cell"] = run(app, 400)
out["low_cell_codes"] = app.status.active_codes()
app = booted(Silent())
out["silent"] = run(app, 400)
out["silent_codes"] = app.status.active_codes()
print(json.dumps(out))
'''


def test_ticks_with_codes_coming_and_outputs_blinking_allocate_nothing():
    """Off the steady state too: a cell falling to 2.7 V (W-B01, the 30 s lead,
    A-B01) and a ring gone silent (W-B05, A-B05), with the intermittent
    pre-alarm and the status LED blinking."""
    mp = mpy_bridge.MicroPython()
    try:
        mp.load_firmware(extra=["host_tools/mpy/bench_memory.py", "host_tools/mpy/mp_ring.py",
                                "host_tools/mpy/bench_workloads.py"])
        out = json.loads(mp.run("import json\n" + PATHS))
    finally:
        mp.close()
    assert out["low_cell_codes"] == ["W-B01", "A-B01"] and out["silent_codes"] == ["W-B05", "A-B05"]
    assert out["low_cell"] == 0 and out["silent"] == 0, out


@pytest.mark.parametrize("version", sorted(mpy_bridge.VERSIONS))
def test_every_workload_allocates_nothing_per_tick(version):
    """Issue 10's table: each workload at 0 B per steady-state tick under
    MicroPython, except a frame failing its CRC (binascii.crc32 returns a 32-bit
    int, which 3 times in 4 is a big int): at most 32 B for each such frame."""
    r = bench.workloads(ticks=100, version=version)
    assert r["alarm_continuous_codes"] == r["alarm_intermittent_codes"] == "W-B01,A-B01"
    assert r["link_lost_codes"] == "W-B05,A-B05"
    assert r["ble_adverts"] >= 5 and r["regulator_state"] == 7
    for name in bench.WORKLOADS:
        if name != "noisy_link":
            assert r[name] == 0, (name, r)
    assert r["noisy_link_crc_failures"] >= 3
    assert r["noisy_link"] * 100 <= 32 * r["noisy_link_crc_failures"], r
    # The frame-parsing tick is timed (a figure for make bench, not a timed test).
    for k in ("20x4", "50x16"):
        assert r["frame_tick_ms_wasm"][k]["mean_ms"] > 0
