"""Memory and time of the control tick, run inside MicroPython.

``bench(batteries, ticks)`` boots the BMS on the pin mock with a zero-allocation
UART stand-in fed a pre-built ring answer, runs ``ticks`` control ticks and
returns a dict: bytes allocated per steady-state tick (summed over the ticks
alone, GC off) and the mean tick time in ms. The booted BMS stays in ``APP`` so
the caller can read the heap in a later interpreter call (the WebAssembly port
frees garbage only between calls): ``host_tools/bench.py`` does that.
"""
import gc
import sys
import time

import machine  # noqa: E402  (the pin mock on the host)
import bms  # noqa: E402
import hw  # noqa: E402
import inbox  # noqa: E402
import mp_ring  # noqa: E402
import settings  # noqa: E402

def make_frame(batteries):
    """A ring answer from ``batteries`` 4-cell batteries; the current is negative
    so the signed decode is exercised."""
    return mp_ring.frame(0, [mp_ring.record(i + 1, (3300, 3301, 3302, 3303), (200,), current_ma=-2000)
                             for i in range(batteries)])


APP = []


def bench(batteries=5, ticks=1000):
    """Up to 5 batteries, a Smart BMS 12/200 whose alternator port regulates
    throughout: its fuse-drop input swings between 90 A and 110 A (the 125 A
    fuse's limit is 100 A) every tick, so the duty moves every tick. More
    batteries: a smallBMS NG (the 12/200 takes 5; models), without power ports."""
    h = hw.Hardware(mp_ring.power_board(machine))
    h.uart = mp_ring.QuietUart(make_frame(batteries))
    app = bms.Bms(h, settings.Settings(), None, "smart_bms_12_200" if batteries <= 5 else "smallbms_ng")
    now = (1 << 30) - 20000          # the tick counter wraps during the run
    period = bms.TICK_MS
    # warm-up: boot, first readings, every code path once
    for _ in range(50):
        app.tick(now)
        now = (now + period) & ((1 << 30) - 1)
    st = app.status
    assert st.batteries == batteries and st.atd and st.atc, (st.batteries, st.active_codes())
    # So coulomb counting and time-to-go run in the measured ticks: the SoC is set
    # the way the REPL sets it, through the command inbox.
    app.inbox.post((inbox.SET_SOC, 80))
    for _ in range(20):
        app.tick(now)
        now = (now + period) & ((1 << 30) - 1)
    assert st.ttg_min > 0 and st.soc_pct10 > 0, (st.ttg_min, st.soc_pct10)
    alloc = 0
    spent_us = 0
    measurable = hasattr(gc, "mem_alloc")
    alt = app.alternator
    if alt is not None:
        assert alt.state == 7 and app.system.discharge, (alt.state, app.system.state)   # ALT_ON, System+ closed
    duties = 0
    last = alt.duty if alt is not None else 0
    swing = (mp_ring.FUSE_LOW_MV, mp_ring.FUSE_HIGH_MV)
    for i in range(ticks):
        machine.set_adc_mv(36, swing[i & 1])
        gc.disable()
        before = gc.mem_alloc() if measurable else 0
        t0 = time.ticks_us() if hasattr(time, "ticks_us") else int(time.perf_counter() * 1e6)
        app.tick(now)
        t1 = time.ticks_us() if hasattr(time, "ticks_us") else int(time.perf_counter() * 1e6)
        after = gc.mem_alloc() if measurable else 0
        gc.enable()
        alloc += after - before
        spent_us += (t1 - t0)
        now = (now + period) & ((1 << 30) - 1)
        if alt is not None and alt.duty != last:
            duties += 1
            last = alt.duty
    APP.append(app)
    assert st.atd and st.active_codes() == [] and st.complete, st.active_codes()
    return {
        "interpreter": "%s %s" % (sys.implementation.name, ".".join(str(v) for v in sys.implementation.version[:3])),
        "batteries": batteries,
        "ticks": ticks,
        "alloc_bytes_per_tick": alloc / ticks,
        "tick_ms": spent_us / ticks / 1000.0,
        "frames_ok": st.link_frames_ok,
        "ticks_run": st.ticks,
        "alternator_duty_changes": duties,
    }
