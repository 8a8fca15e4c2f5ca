"""Benchmarks: ``python -m host_tools.bench`` (``make bench``).

memory: the control tick under real MicroPython 1.27 (WebAssembly port, 32-bit
like the ESP32) with 20 batteries: bytes allocated per steady-state tick (goal 0),
heap in use after boot + 1 000 ticks (goal <= 32 KB), tick time. Writes
``build/bench/memory.json`` with keys ``interpreter``, ``batteries``,
``alloc_bytes_per_tick``, ``heap_used_bytes``, ``tick_ms`` and more.

``heap_used_bytes`` is what the firmware's objects hold (buffers, two banks,
settings, tables) after boot and the ticks; the firmware's own bytecode, which a
production image freezes into flash, is reported apart as ``code_heap_bytes``
(measured with the modules loaded from source). The tick time is the WebAssembly
interpreter's on this machine, not the ESP32's.
"""
import json
import os
import sys

import host_tools
from host_tools.mpy_bridge import MicroPython

FIRMWARE_MODULES = ("ticks", "codes", "settings", "bank", "link", "protection", "board", "hw", "bms")
BENCH_DIR = os.path.join(host_tools.ROOT, "build", "bench")


def _heap(mp):
    return int(mp.run("import gc\ngc.collect()\nprint(gc.mem_alloc())").strip())


def memory(batteries=20, ticks=1000):
    mp = MicroPython()
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


def main():
    os.makedirs(BENCH_DIR, exist_ok=True)
    r = memory()
    path = os.path.join(BENCH_DIR, "memory.json")
    with open(path, "w") as f:
        json.dump(r, f, indent=2, sort_keys=True)
    print("memory benchmark (%s, %d batteries, %d ticks):" % (r["interpreter"], r["batteries"], r["ticks"]))
    print("  allocated per steady-state tick  %8.1f bytes   (goal 0)" % r["alloc_bytes_per_tick"])
    print("  heap in use after boot + ticks   %8d bytes   (goal <= 32768)" % r["heap_used_bytes"])
    print("  firmware bytecode in the heap    %8d bytes   (frozen into flash in a production image)" % r["code_heap_bytes"])
    print("  tick time                        %8.3f ms      (WebAssembly on this host, not the ESP32)" % r["tick_ms"])
    print("wrote " + os.path.relpath(path, host_tools.ROOT))
    ok = r["alloc_bytes_per_tick"] == 0 and r["heap_used_bytes"] <= 32 * 1024
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
