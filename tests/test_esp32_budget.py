"""Issue 10's budgets that can be kept exactly (docs/esp32-budget.md): the bank's
refresh rate and the threshold-to-pin latency (the firmware on the pin mock, a
ring with the wire's timing, the pin mock's recorded transitions), and the heap
of the firmware deployed as .mpy (exact under MicroPython). Tick times are
figures of ``make bench``, not tests."""
import pytest

from host_tools import esp32_budget as E
from host_tools import mpy_bridge


def test_the_wire_allows_ten_readings_a_second_of_20_x_4_cells():
    r = E.refresh_hz(20, 4)
    assert 60 < r["wire_ms"] < 80 and r["period_ms"] == 100 and r["hz"] == 10.0
    big = E.refresh_hz(50, 16)
    assert 250 < big["wire_ms"] < 300 and big["period_ms"] == 400


def test_the_firmware_reads_20_x_4_cells_at_least_five_times_a_second():
    """Issue 10: a full refresh >= 5 Hz for 20 x 4 cells (it is 10 Hz: every tick)."""
    assert E.measured_refresh_hz(20, seconds=5) >= 9.8
    assert E.measured_refresh_hz(50, seconds=5) >= 3.0        # 50 x 4: the wire's 0.17 s frame


def test_threshold_to_pin_is_within_300_ms_beyond_the_rule_delay():
    """Issue 10: crossing -> pin within 300 ms beyond the rule's own delay, over
    random crossing instants (seeded: the same instants every run). The floor
    is one tick (the crossing must be sampled by a poll and the answer handled),
    the ceiling two."""
    lat = E.latency(n=60, seed=7)
    assert lat["min"] >= 100 and lat["max"] <= 200 and lat["p99"] <= 300


@pytest.mark.skipif(not mpy_bridge.available(), reason="needs the WebAssembly MicroPython")
def test_deployed_heap_does_not_grow_and_does_not_regress():
    """The firmware deployed as .mpy, booted with Bluetooth and a phone, then an
    hour with the REPL's diagnostics: the heap in use does not grow once diag is
    loaded, diag is not loaded at boot, and after boot the heap stays at most
    today's 138 KB (issue 10's goal, 64 KB, is not met: docs/esp32-budget.md says
    what would get there)."""
    hp = E.heap(hours=2, period_ms=1000)
    assert hp["diag_calls"] == 8
    # 141 152 B before the model profiles (issue 11): 147 536 B; with the frozen-cell
    # detector and the alarm state (issue 12): 153 696 B; with the update hooks: 154 640 B
    assert hp["after_boot_bytes"] <= 152 * 1024, hp
    assert hp["with_diag_loaded_bytes"] - hp["after_boot_bytes"] >= 8 * 1024, hp     # diag came later
    assert hp["peak_in_use_bytes"] - hp["with_diag_loaded_bytes"] <= 2 * 1024, hp


def test_the_frame_parsing_tick_does_not_grow():
    """Issue 10's tick time has no timed test: the work of one frame-parsing tick
    is counted instead, exactly, as the Python lines of firmware/ it executes
    (4 283 for 20 x 4 cells and 11 964 for 50 x 16 at the time of writing; the
    byte loop this issue removed from the receive path alone was about 1 600
    lines for 20 x 4). ``make bench`` has the times."""
    assert E.tick_lines(20, 4) <= 4500
    assert E.tick_lines(50, 16) <= 12600
