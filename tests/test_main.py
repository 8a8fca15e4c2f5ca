"""firmware/main.py and firmware/bms.py driven directly, without the simulator."""
import pytest

import host_tools
from host_tools import ring
from host_tools.vclock import VirtualClock


@pytest.fixture
def fw():
    clock = VirtualClock(start_ticks=(1 << 30) - 250)      # wraps after 250 ms
    pm = host_tools.use_firmware("esp32", clock)
    import main
    app = main.build(host_tools.board_path("esp32-devkitc"))
    pm.set_adc_mv(34, 300)                                   # remote L-H loop
    pm.set_adc_mv(35, 300)
    return clock, pm, main, app


def answer(app, cells=(3300, 3300, 3300, 3300)):
    """Answer the outstanding poll like a ring of one battery."""
    backend = app.link.uart.backend
    seq = ring.parse(bytes(backend.sent[-len(ring.poll(0)):]))[2]
    backend.feed(ring.frame(seq, [ring.record(1, "SN1", 100, 1, sum(cells), 0, 0, 1, list(cells), [200])]))


def test_build_starts_with_every_output_safe(fw):
    clock, pm, main, app = fw
    for name, o in app.hw.board["outputs"].items():
        assert pm.level(o["pin"]) == 0, name


def test_tick_by_tick(fw):
    clock, pm, main, app = fw
    app.tick(clock.ticks_ms())                 # sends poll 1, no reading yet
    assert pm.level(25) == 0 and not app.status.atd and app.status.startup
    answer(app)
    clock.advance(100)
    app.tick(clock.ticks_ms())
    assert app.status.atd and pm.level(25) == 1 and pm.level(26) == 1
    assert app.link.bank.count == 1 and app.status.batteries == 1 and app.status.ticks == 2


def test_run_ticks_on_time_across_the_wrap_and_stops(fw):
    clock, pm, main, app = fw
    seen = []
    real_tick = app.tick

    def tick(now):
        seen.append(now)
        real_tick(now)

    app.tick = tick
    main.run(app, clock, lambda: clock.elapsed_ms < 1000)
    import bms
    diffs = {clock.ticks_diff(b, a) for a, b in zip(seen, seen[1:])}
    assert diffs == {bms.TICK_MS} and len(seen) == 1000 // bms.TICK_MS
    assert any(t < 1000 for t in seen) and any(t > (1 << 30) - 300 for t in seen)


def test_an_overrun_tick_does_not_make_the_loop_race(fw):
    clock, pm, main, app = fw
    seen = []

    def slow_tick(now):
        seen.append(now)
        clock.elapsed_ms += 250                # this tick took 250 ms

    app.tick = slow_tick
    main.run(app, clock, lambda: clock.elapsed_ms < 2000)
    gaps = [clock.ticks_diff(b, a) for a, b in zip(seen, seen[1:])]
    assert min(gaps) >= 250


def test_run_makes_outputs_safe_when_stopped_by_an_exception(fw):
    clock, pm, main, app = fw
    app.tick(clock.ticks_ms())
    answer(app)
    clock.advance(100)
    app.tick(clock.ticks_ms())
    assert pm.level(25) == 1

    def interrupted(now):
        raise KeyboardInterrupt

    app.tick = interrupted
    with pytest.raises(KeyboardInterrupt):
        main.run(app, clock)
    assert pm.level(25) == 0 and pm.level(26) == 0 and app.status.stopped


def test_main_runs_the_loop_in_a_thread_where_there_is_one(fw, monkeypatch, tmp_path):
    clock, pm, main, app = fw
    import shutil
    import sys
    import types
    shutil.copy(host_tools.board_path("esp32-devkitc"), tmp_path / "board.json")
    monkeypatch.chdir(tmp_path)
    started = []
    fake = types.SimpleNamespace(stack_size=lambda n: None,
                                 start_new_thread=lambda fn, args: started.append((fn, args)))
    monkeypatch.setitem(sys.modules, "_thread", fake)
    booted = main.main()
    assert started and started[0][0] is main.run and started[0][1][0] is booted
    import bms
    import diag
    assert bms.running is booted and diag._get(None) is booted


def test_boot_drives_every_output_off_before_main(fw, tmp_path, monkeypatch):
    clock, pm, main, app = fw
    import json
    import shutil
    b = json.load(open(host_tools.board_path("esp32-devkitc")))
    b["outputs"]["charge_disconnect"]["active_high"] = False
    (tmp_path / "board.json").write_text(json.dumps(b))
    pm = host_tools.use_firmware("esp32", clock)
    monkeypatch.chdir(tmp_path)
    import sys
    sys.modules.pop("boot", None)
    import boot  # noqa: F401  (running boot.py is the test)
    assert pm.level(25) == 0 and pm.level(27) == 0
    assert pm.level(26) == 1                          # active-low: off is high
    import hw
    (tmp_path / "board.json").write_text("{not json")
    hw.safe_pins("board.json")                        # a broken board file never stops boot


def test_main_starts_the_watchdog_and_logs_crashes_to_a_file(fw, monkeypatch, tmp_path):
    clock, pm, main, app = fw
    import shutil
    import sys
    import types
    shutil.copy(host_tools.board_path("esp32-devkitc"), tmp_path / "board.json")
    monkeypatch.chdir(tmp_path)
    started = []
    monkeypatch.setitem(sys.modules, "_thread", types.SimpleNamespace(
        stack_size=lambda n: None, start_new_thread=lambda fn, args: started.append(args)))
    booted = main.main()
    assert booted.hw._wdt is not None
    assert started[0][3] == "crash.log"
    import diag
    booted.tick = lambda now: 1 / 0
    with pytest.raises(ZeroDivisionError):
        main.run(booted, clock, None, "crash.log")
    assert "ZeroDivisionError" in (tmp_path / "crash.log").read_text()
    diag.status(booted)
    diag.crash_log()


def test_boot_with_corrupt_settings_shows_e_b31_until_a_factory_reset(fw, tmp_path, capsys):
    clock, pm, main, app = fw
    import codes as C
    import diag
    import store
    (tmp_path / "settings.json").write_bytes(b"{half a file")
    fs = store.OsFs(str(tmp_path))
    app = main.build(host_tools.board_path("esp32-devkitc"), fs=fs)
    app.tick(clock.ticks_ms())
    assert app.status.active[C.E_B31] and app.status.active_codes() == ["E-B31"]
    assert app.settings.get("cell_uv_trip_v") == 2.8
    diag.attach(app)
    assert diag.set("cell_uv_trip_v", 9) is False                   # refused, says why
    assert "not changed" in capsys.readouterr().out
    diag.factory_reset()
    assert app.status.active[C.E_B31]                              # applied by the next tick
    clock.advance(100)
    app.tick(clock.ticks_ms())
    assert not app.status.active[C.E_B31]
    assert store.load(fs, "settings.json")[1] == store.OK
    assert diag.set("cell_uv_trip_v", 2.7) is True
    clock.advance(100)
    app.tick(clock.ticks_ms())
    diag.get("cell_uv_trip_v")
    assert "2.7" in capsys.readouterr().out
    for _ in range(101):                                          # saved within 10 s
        clock.advance(100)
        app.tick(clock.ticks_ms())
    again = main.build(host_tools.board_path("esp32-devkitc"), fs=fs)
    assert again.settings.get("cell_uv_trip_v") == 2.7
    diag.history(again)


def test_main_refuses_to_start_a_model_the_board_cannot_be_and_leaves_every_output_off(fw, tmp_path, monkeypatch,
                                                                                       capsys):
    clock, pm, main, app = fw
    import json
    import sys
    import types
    b = json.load(open(host_tools.board_path("esp32-devkitc")))
    b["model"] = "lynx_smart_bms"                     # the board file names a model it has no contactor for
    (tmp_path / "board.json").write_text(json.dumps(b))
    pm = host_tools.use_firmware("esp32", clock)
    monkeypatch.chdir(tmp_path)
    started = []
    monkeypatch.setitem(sys.modules, "_thread", types.SimpleNamespace(
        stack_size=lambda n: None, start_new_thread=lambda fn, args: started.append(args)))
    sys.modules.pop("boot", None)
    import boot  # noqa: F401
    assert main.main() is None and started == []
    out = capsys.readouterr().out
    assert out == ("BMS not started: the Lynx Smart BMS (model 'lynx_smart_bms') needs outputs contactor, aux_output, "
                   "alternator_atc, which board file 'ESP32-DevKitC (ESP32-WROOM-32)' lacks: add them to its "
                   "\"outputs\", or set another model\n")
    assert all(pm.level(o["pin"]) == 0 for o in b["outputs"].values())


def test_a_crash_restarts_the_loop_with_outputs_off_meanwhile_and_the_watchdog_fed(fw, tmp_path):
    clock, pm, main, app = fw
    import bms
    app.hw.start_watchdog()
    real_tick = app.tick
    crashes = []

    def flaky(now):
        real_tick(now)
        if app.link.awaiting and app.link.seq > 1:
            answer(app)                     # a ring that answers every poll
        if app.status.ticks == 30 and not crashes:
            crashes.append(clock.elapsed_ms)
            raise ValueError("a bug in a stage")

    app.tick(clock.ticks_ms())
    answer(app)
    app.tick = flaky
    main.run(app, clock, lambda: clock.elapsed_ms < 6000, str(tmp_path / "crash.log"))
    # Times as the clock's ticks_ms (it wraps 250 ms into the run): counted from the crash.
    t_crash = clock.ticks_ms() - (clock.elapsed_ms - crashes[0])
    since = lambda t: clock.ticks_diff(t, t_crash)  # noqa: E731
    # Every output went off at the crash, stayed off for the pause, and came back.
    load = [(since(t), lvl) for t, lvl in pm.pin_transitions(25)]
    off = [t for t, lvl in load if lvl == 0 and t >= 0]
    on_again = [t for t, lvl in load if lvl == 1 and t > 0]
    assert off and off[0] == 0
    assert on_again and on_again[0] >= main.RESTART_PAUSE_MS
    assert app.restarts == 1 and not app.status.stopped and app.status.atd
    # The watchdog was fed through the pause: no gap near its 5 s.
    feeds = [since(t) for t in pm.wdt_feeds if since(t) >= -200]
    assert max(b - a for a, b in zip(feeds, feeds[1:])) <= 2 * bms.TICK_MS
    assert "ValueError: a bug in a stage" in (tmp_path / "crash.log").read_text()
    import diag
    assert diag.loop_lines(app)[0].endswith("; restarted 1 times after a crash (diag.crash_log())")


def test_a_crash_that_keeps_coming_gives_up_to_the_watchdog(fw, tmp_path):
    clock, pm, main, app = fw
    app.hw.start_watchdog()
    calls = []

    def broken(now):
        calls.append(now)
        raise RuntimeError("always")

    app.tick = broken
    with pytest.raises(RuntimeError, match="always"):
        main.run(app, clock, None, str(tmp_path / "crash.log"))
    assert len(calls) == main.MAX_RESTARTS + 1 and app.restarts == main.MAX_RESTARTS
    assert app.status.stopped and all(pm.level(o["pin"]) == 0 for o in app.hw.board["outputs"].values())
    assert (tmp_path / "crash.log").read_text().count("--- crash") == main.MAX_RESTARTS + 1
    # From here nothing feeds the watchdog: it resets the board within its 5 s.
    assert clock.ticks_diff(clock.ticks_ms(), pm.wdt_feeds[-1]) < 5000


def test_a_stall_is_counted_as_missed_periods_and_the_loop_keeps_its_phase(fw):
    clock, pm, main, app = fw
    seen = []
    real_tick = app.tick

    def tick(now):
        seen.append(clock.elapsed_ms)
        if clock.elapsed_ms == 300:
            clock.elapsed_ms += 1040          # this tick stalled 1.04 s (a long flash erase)
        real_tick(now)

    app.tick = tick
    main.run(app, clock, lambda: clock.elapsed_ms < 2000)
    # the periods at 400 .. 1200 had no tick (9); the 1300 one runs late, at once, then the old phase
    assert app.missed_ticks == 9
    assert seen[:6] == [0, 100, 200, 300, 1340, 1400]
    import diag
    assert "9 periods missed" in diag.loop_lines(app)[0]
