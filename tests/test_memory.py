"""Under real MicroPython, a steady-state control tick allocates nothing on the heap.

Not a timing test: allocation is deterministic. The figures themselves come from
``make bench``.
"""
import json

from host_tools import bench, mpy_bridge


def test_steady_state_tick_allocates_nothing_with_20_and_50_batteries():
    r = bench.memory(batteries=20, ticks=300)
    assert r["interpreter"].startswith("micropython 1.27")
    assert r["frames_ok"] > 30
    assert r["alloc_bytes_per_tick"] == 0, r
    assert 0 < r["heap_used_bytes"] <= 32 * 1024, r
    r50 = bench.memory(batteries=50, ticks=100)
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
