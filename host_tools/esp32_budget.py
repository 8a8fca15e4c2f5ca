"""Issue 10's ESP32 figures: the calibration factor, the ESP32 tick estimate, the
bank's refresh rate, the threshold-to-pin latency and the deployed heap.

Used by ``make bench`` (``host_tools/bench.py``), which writes them to
``build/bench/esp32.json``; docs/esp32-budget.md explains each method.

- ``calibration(version)``: pystone (the ``micropython-pystone_lowmem`` package
  from PyPI, pinned below by version and SHA-256, fetched into ``build/cache``)
  run inside the WebAssembly MicroPython, against the published ESP32 figures
  ``ESP32_PYSTONES``. The factor is WebAssembly pystones / ESP32 pystones.
- ``latency(n, seed)``: the firmware on CPython with the pin mock and a ring
  that samples the cells when the poll passes and answers after the wire time
  at 115 200 baud; a cell crosses the pre-alarm threshold at a random instant
  and the pin mock's recorded transition gives the time to the pin.
- ``heap(version)``: the firmware deployed as ``.mpy`` (mpy-cross, as ``make
  deploy``), booted as ``main`` does with Bluetooth on and a phone paired
  (``host_tools/mpy/bench_heap.py``).
"""
import glob
import hashlib
import io
import json
import os
import random
import tarfile
import tempfile
import urllib.request

import host_tools
from host_tools import ring
from host_tools.mpy_bridge import MicroPython

PYSTONE_URL = ("https://files.pythonhosted.org/packages/2b/e9/cd38fe0fe0024193e6b8132b8c370c28ccd4bd8fae92dd5ae3b54d08768f/"
               "micropython-pystone_lowmem-3.4.2-4.tar.gz")
PYSTONE_SHA256 = "3d5cd43a7b21539d55ad5de85a273c4c4025296a78525774b1583e22b6cd1c5c"
# Published pystone_lowmem results on an ESP32 at 240 MHz with MicroPython v1.12
# release firmware: 1 661 /s (micropython/micropython#5673, 2020-02) and 1 602 /s
# (#6565, 2020-10). Later builds were slower for a while (1 014-1 075 /s, #6565 and
# v923z/micropython-ulab#296) until the VM moved to IRAM and -O2 (#7850, v1.18),
# which made the perf suite 1.5-3x faster: so these two figures are the
# conservative end (they make the ESP32 look slower, not faster).
ESP32_PYSTONES = (1602, 1661)
PYSTONE_LOOPS = 20000
BAUD = 115200
POLL_MIN_MS = 100      # firmware/frame.py
# The board's heap for the free-heap figure: issue 10's budget, 64 KB in use
# after boot and 16 KB free, i.e. a heap that grew from the 56 KB at start to
# 80 KB (docs/esp32-budget.md, "Heap").
BOARD_HEAP_BYTES = 80 * 1024
CACHE_DIR = os.path.join(host_tools.ROOT, "build", "cache")


def pystone_source():
    """The text of pystone_lowmem.py from the pinned sdist (downloaded once into
    ``build/cache``). Raises ``RuntimeError`` if the download fails or its hash differs."""
    os.makedirs(CACHE_DIR, exist_ok=True)
    path = os.path.join(CACHE_DIR, os.path.basename(PYSTONE_URL))
    if not os.path.exists(path):
        try:
            data = urllib.request.urlopen(PYSTONE_URL, timeout=60).read()
        except OSError as e:
            raise RuntimeError("cannot fetch %s: %s" % (PYSTONE_URL, e))
        if hashlib.sha256(data).hexdigest() != PYSTONE_SHA256:
            raise RuntimeError("pystone sdist: SHA-256 mismatch")
        with open(path, "wb") as f:
            f.write(data)
    with open(path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != PYSTONE_SHA256:
        raise RuntimeError("pystone sdist in %s: SHA-256 mismatch (delete it)" % path)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t.getmembers():
            if m.name.endswith("/pystone_lowmem.py"):
                return t.extractfile(m).read().decode()
    raise RuntimeError("pystone_lowmem.py not in the sdist")


def calibration(version="1.27", runs=3):
    """{"wasm_pystones": best of ``runs``, "esp32_pystones": ESP32_PYSTONES,
    "factor": [low, high]}: an ESP32 takes ``factor`` times as long as this host's
    WebAssembly MicroPython for the same Python code."""
    mp = MicroPython(version)
    try:
        mp.write("/lib/pystone_lowmem.py", pystone_source())
        best = 0
        for _ in range(runs):
            out = mp.run("import pystone_lowmem\nprint(pystone_lowmem.pystones(%d)[1])" % PYSTONE_LOOPS)
            best = max(best, float(out.strip()))
    finally:
        mp.close()
    lo, hi = ESP32_PYSTONES
    return {"wasm_pystones": round(best), "esp32_pystones": list(ESP32_PYSTONES),
            "factor": [round(best / hi, 1), round(best / lo, 1)]}


def refresh_hz(batteries, cells, temps=1):
    """Full readings a second: the next poll once the answer is in and handled
    (``frame.POLL_MIN_MS`` at least), the answer taking the wire time of the
    poll and the frame at ``BAUD`` (10 bits a byte), with the 100 ms tick."""
    rec = ring.record(1, "SN1", 100, 0x0104, 3300 * cells, 0, 0, 1, [3300] * cells, [200] * temps)
    wire_ms = (len(ring.poll(0)) + len(ring.frame(0, [rec] * batteries))) * 10 * 1000.0 / BAUD
    ticks = -(-int(wire_ms + 1 + batteries) // 100)         # the answer is handled on the next tick after it is in
    period = max(POLL_MIN_MS, ticks * 100)
    return {"wire_ms": round(wire_ms, 1), "period_ms": period, "hz": round(1000.0 / period, 2),
            "wire_hz": round(1000.0 / wire_ms, 2)}


def latency(n=300, seed=1, batteries=20):
    """Threshold crossed -> pin changed, beyond the rule's delay, in ms, over ``n``
    crossings at random instants: {"p50", "p99", "max", "min", "n"}.

    Each run boots the firmware (CPython, pin mock) with ``batteries`` 4-cell
    batteries, lets it settle, then one cell steps from 3.30 V to 3.00 V (under
    the 3.10 V pre-alarm threshold, ``pre_alarm_delay_s``) at a random instant;
    the ring samples the cells when a poll passes and the answer reaches the
    UART after its wire time. The time is read off the pin mock's transitions of
    the pre-alarm output."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        out.append(_one_crossing(rnd.uniform(5000.0, 6000.0), batteries))
    out.sort()
    return {"n": n, "min": out[0], "p50": out[len(out) // 2], "p99": out[min(n - 1, (n * 99) // 100)],
            "max": out[-1]}


class _Ring:
    """The firmware on CPython and the pin mock, with a ring of ``batteries`` 4-cell
    batteries that samples its cells (``cells_at(t_ms, k)``) when a poll passes and
    answers after the wire time."""

    def __init__(self, batteries, cells_at):
        from host_tools.vclock import TICKS_PERIOD, VirtualClock
        self.period = TICKS_PERIOD
        self.clock = VirtualClock(TICKS_PERIOD - 20000)
        self.pm = host_tools.use_firmware("esp32", self.clock)
        import board as board_mod
        import bms
        import hw
        from settings import Settings
        self.board = board_mod.load(host_tools.board_path("esp32-devkitc"))
        self.uart = self.pm.MemoryBackend()
        self.pm.attach_uart(self.board["link_uart"]["id"], self.uart)
        self.pm.set_adc_mv(34, 300)
        self.pm.set_adc_mv(35, 300)
        self.settings = Settings()
        # A 20-battery bank is a smallBMS NG's (up to 50; the 12/200 takes 5: models).
        self.app = bms.Bms(hw.Hardware(self.board), self.settings, None, "smallbms_ng")
        self.batteries = batteries
        self.cells_at = cells_at
        self.pending = []
        self.t = 0

    def run_to(self, end_ms):
        poll_len = len(ring.poll(0))
        while self.t <= end_ms:
            t = self.t
            due = [p for p in self.pending if p[0] <= t]
            self.pending = [p for p in self.pending if p[0] > t]
            for _, data in due:
                self.uart.feed(data)
            self.clock.elapsed_ms = t
            self.app.tick(self.clock.ticks_ms())
            sent = self.uart.take_sent()
            for i in range(0, len(sent) - poll_len + 1, poll_len):
                seq = ring.parse(sent[i:i + poll_len])[2]
                recs = [ring.record(k + 1, "SN%d" % (k + 1), 100, 0x0104, 13200, -2000, 0, 1, self.cells_at(t, k), [200])
                        for k in range(self.batteries)]
                fr = ring.frame(seq, recs)
                self.pending.append((t + 1 + len(fr) * 10 * 1000.0 / BAUD + self.batteries, fr))
            self.t += 100

    def rises(self, output):
        """Times (ms since the start) the output's pin went to 1."""
        pin = self.board["outputs"][output]["pin"]
        return [(when - self.clock._start) % self.period for when, level in self.pm.pin_transitions(pin) if level == 1]


def measured_refresh_hz(batteries=20, seconds=10):
    """Readings the firmware accepted a second over ``seconds`` (after a 1 s start)."""
    r = _Ring(batteries, lambda t, k: [3300, 3300, 3300, 3300])
    r.run_to(1000)
    ok = r.app.link.frames_ok
    r.run_to(1000 + seconds * 1000 - 100)
    return (r.app.link.frames_ok - ok) / float(seconds)


def _one_crossing(t_cross, batteries):
    r = _Ring(batteries, lambda t, k: [3300, 3000 if (t >= t_cross and k == 0) else 3300, 3300, 3300])
    delay_ms = r.settings.ms("pre_alarm_delay_s")
    r.run_to(t_cross + delay_ms + 3000)
    for ms in r.rises("pre_alarm"):
        if ms > 1000:
            return round(ms - t_cross - delay_ms, 1)
    raise RuntimeError("the pre-alarm never came on")


def heap(version="1.27", batteries=5, hours=24, period_ms=1000):
    """The deployed firmware's heap over ``hours`` simulated hours, in bytes:
    {"after_boot_bytes", "with_diag_loaded_bytes" (after the first diagnostics,
    which import diag), "peak_in_use_bytes", "min_free_bytes" (of
    ``BOARD_HEAP_BYTES``), ...}."""
    from host_tools import build
    out_dir = tempfile.mkdtemp(prefix="mpy-")
    build.compile_all("xtensawin", out_dir)
    mp = MicroPython(version)
    try:
        stand_ins = (("machine", "host_tools/pin_mock.py"), ("bluetooth", "host_tools/ble_mock.py"),
                     ("cryptolib", "host_tools/mpy/mp_cryptolib.py"), ("mp_ring", "host_tools/mpy/mp_ring.py"),
                     ("bench_heap", "host_tools/mpy/bench_heap.py"))
        for name, rel in stand_ins:
            with open(os.path.join(host_tools.ROOT, rel)) as f:
                mp.write("/lib/%s.py" % name, f.read())
        for p in glob.glob(os.path.join(out_dir, "*")):
            with open(p, "rb") as f:
                mp.write_bytes("/lib/" + os.path.basename(p), f.read())
        mp.reset()
        mp.run("import bench_heap")
        base = int(mp.run("print(bench_heap.baseline())"))
        mp.run("bench_heap.boot(%d)" % batteries)
        after = int(mp.run("print(bench_heap.baseline())")) - base
        peak = after
        with_diag = after
        diag_calls = 0
        for h in range(hours):
            for m in range(0, 60, 10):
                mp.run("bench_heap.run_minutes(10, %d)" % period_ms)
                peak = max(peak, int(mp.run("print(bench_heap.baseline())")) - base)
            diag_calls += int(mp.run("print(bench_heap.diagnostics())").strip().splitlines()[-1])
            now = int(mp.run("print(bench_heap.baseline())")) - base
            if h == 0:
                with_diag = now          # diag and its helpers loaded by the first call
            peak = max(peak, now)
        codes = mp.run("print(bench_heap.codes())").strip()
    finally:
        mp.close()
    return {"after_boot_bytes": after, "peak_in_use_bytes": peak, "with_diag_loaded_bytes": with_diag, "hours": hours, "diag_calls": diag_calls,
            "codes": codes, "board_heap_model_bytes": BOARD_HEAP_BYTES,
            "min_free_bytes": BOARD_HEAP_BYTES - peak}


def tick_lines(batteries=20, cells=4):
    """The Python lines one frame-parsing tick executes (CPython's line events):
    an exact, untimed measure of the tick's work, for a budget test. A byte loop
    put back into the receive path or the decoder shows here as thousands more."""
    import sys
    r = _Ring(batteries, lambda t, k: [3300 + k % 7] * cells)
    r.run_to(3000)
    count = [0]

    fw = host_tools.FIRMWARE_DIR

    def tracer(frame, event, arg):
        if event == "line" and frame.f_code.co_filename.startswith(fw):
            count[0] += 1
        return tracer

    for _ in range(10):                 # a big bank's answer takes several ticks
        ok = r.app.link.frames_ok
        count[0] = 0
        sys.settrace(tracer)
        try:
            r.run_to(r.t)               # one tick
        finally:
            sys.settrace(None)
        if r.app.link.frames_ok == ok + 1:
            return count[0]
    raise RuntimeError("no tick parsed a frame")
