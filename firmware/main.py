"""Entry point: the ESP32 runs this file at boot; the simulator calls ``run``.

``build()`` wires board file, hardware layer, settings and controller;
``run(app, clock)`` is the control loop. ``clock`` supplies ``ticks_ms()`` and
``sleep_ms(ms)``: the ``time`` module on the board, a virtual clock on the host,
so the same loop runs a simulated day in seconds.
"""
import bms
import board
import hw
import models
import settings
from ticks import ticks_add, ticks_diff


def build(board_path="board.json", settings_obj=None, fs=None, profile=None, bt=None, urandom=None):
    """Return a ready ``bms.Bms`` for the board file at ``board_path`` (a path,
    or a board dict already read, as the simulator passes it).

    With ``fs`` (``store.OsFs()`` on the board, ``store.MemFs()`` in simulation)
    settings and history are loaded from it and saved back when they change;
    corrupt or missing settings give the defaults and E-B31 (docs/persistence.md).
    ``profile``: a model profile name (``models.NAMES``); default: the ``model``
    setting's (docs/models.md).
    ``bt``: the ``bluetooth`` module (or the host's mock of it) and ``urandom``
    (``os.urandom``): with both, and a model with Bluetooth, the BMS advertises
    and serves GATT (``ble``), its key, PIN and bonds kept in ``fs`` (``ble_keys``).
    Raises ``board.BoardError`` for a bad board file or one that lacks a pin the
    model needs (the BMS refuses to start: every output stays off), ``OSError``
    for a missing one.
    """
    b = board.validate(board_path) if isinstance(board_path, dict) else board.load(board_path)
    s = settings_obj or settings.Settings()
    persister = None
    if fs is not None:
        import history
        import persist
        h = history.History()
        status = persist.load_settings(fs, s)
        persist.load_history(fs, h)
        persister = persist.Persister(fs, s, h, status)
    if profile is None:
        profile = models.resolve(s.get("model"), b)
    models.check_board(profile, b)
    app = bms.Bms(hw.Hardware(b), s, persister, profile)
    if fs is not None:
        # Latched withdrawals and port trips survive a reset (docs/reliability.md).
        import alarm_state
        alarms = alarm_state.AlarmState(fs)
        app.alarm_state = alarms
        alarms.restore(app)
    if bt is not None and urandom is not None and models.has_feature(profile, models.FEAT_BLUETOOTH):
        import ble
        import ble_keys
        keys = ble_keys.BleKeys(urandom, fs)
        app.attach_bluetooth(ble.Radio(bt, app, keys, urandom), keys)
    return app


# A crash in the control loop (docs/reliability.md): every output off, the
# traceback logged, then the loop runs again after RESTART_PAUSE_MS with the
# watchdog fed; more than MAX_RESTARTS crashes within RESTART_WINDOW_MS and it
# gives up: the watchdog (hw.WDT_TIMEOUT_MS) resets the board, boot.py keeps
# the outputs off, main.py starts afresh.
MAX_RESTARTS = 3
RESTART_PAUSE_MS = 1000
RESTART_WINDOW_MS = 60000


def run(app, clock, keep_going=None, crash_log=None, max_restarts=MAX_RESTARTS):
    """Tick ``app`` every ``bms.TICK_MS`` until ``keep_going()`` returns False.

    If a tick raises, every output goes to its safe state at once: a crashed
    loop never leaves ATC or ATD allowed. With ``crash_log`` (a path) the
    traceback is appended there (``crashlog``; ``diag.crash_log()`` shows it).
    An ``Exception`` restarts the loop after ``RESTART_PAUSE_MS`` (outputs off,
    watchdog fed; ``app.restarts`` counts it), up to ``max_restarts`` times in
    ``RESTART_WINDOW_MS``; the next one propagates, and so do KeyboardInterrupt
    and SystemExit (a user's stop). The loop itself is ``periods``; this
    sleeps the times it yields (an exception in a sleep counts as the loop's).
    """
    gen = periods(app, clock, keep_going, crash_log, max_restarts)
    try:
        wait = next(gen)
        while True:
            try:
                clock.sleep_ms(wait)
            except BaseException as e:      # into the loop, as if its own sleep raised it
                wait = gen.throw(e)
                continue
            wait = next(gen)
    except StopIteration:
        return


def periods(app, clock, keep_going=None, crash_log=None, max_restarts=MAX_RESTARTS):
    """The control loop as a generator: it ticks ``app`` and yields each time it
    would sleep, the ms to sleep (``run`` sleeps them; the simulator's lockstep
    with MicroPython steps it from outside, host_tools/mpy/sim_driver.py).
    Crash handling as ``run`` says."""
    recent = []
    while True:
        try:
            yield from _loop(app, clock, keep_going)
            return
        except Exception as e:
            _stopped(app, e, crash_log)
            now = clock.ticks_ms()
            recent = [t for t in recent if ticks_diff(now, t) < RESTART_WINDOW_MS]
            if len(recent) >= max_restarts:
                raise
            recent.append(now)
            waited = 0
            while waited < RESTART_PAUSE_MS:
                app.hw.feed()
                yield bms.TICK_MS
                waited += bms.TICK_MS
            app.restarts += 1
            app.status.stopped = False
        except BaseException as e:
            _stopped(app, e, crash_log)
            raise


def _loop(app, clock, keep_going):
    # Fixed-phase periods: when a tick overran its period, or the loop stalled,
    # the loop does not race to catch up: the periods gone by without a tick are
    # counted (``app.missed_ticks``, diag's "periods missed") and skipped.
    period = bms.TICK_MS
    due = clock.ticks_ms()
    while keep_going is None or keep_going():
        now = clock.ticks_ms()
        late = ticks_diff(now, due)
        if late >= period:
            k = late // period
            app.missed_ticks += k
            due = ticks_add(due, k * period)
        app.tick(now)
        due = ticks_add(due, period)
        wait = ticks_diff(due, clock.ticks_ms())
        if wait > 0:
            yield wait


def _stopped(app, e, crash_log):
    app.safe()
    app.status.stopped = True
    if crash_log:
        import crashlog
        crashlog.record(e, crash_log, app.ticks * bms.TICK_MS)


def main(board_path="board.json", on_healthy=None):
    """Boot: build the BMS and run its loop (``loader.start`` calls this with
    the active slot's board file, docs/update.md).

    Where ``_thread`` exists (the ESP32 port) the loop runs in its own thread so
    the REPL stays usable for ``diag`` while the BMS keeps working; Ctrl-C at the
    REPL then does not touch the outputs. ``on_healthy``: called once after the
    first healthy tick (``Bms.healthy_hook``: a new version's trial ends).
    Returns None when the BMS cannot start on this board (``board.BoardError``:
    it says why; every output stays off).
    """
    import time
    import crashlog
    import os
    import store
    try:
        import bluetooth
    except ImportError:             # a build without Bluetooth
        bluetooth = None
    try:
        app = build(board_path, fs=store.OsFs(), bt=bluetooth, urandom=getattr(os, "urandom", None))
    except ValueError as e:     # board.BoardError: the board file lacks a pin the model needs
        # boot.py has driven every output off; they stay off: nothing charges or discharges.
        print("BMS not started: %s" % e)
        return None
    # Found by ``diag`` when the user imports it: diag and its helpers are not
    # loaded at boot, their ~15 KB of bytecode stay out of the heap until asked for.
    bms.running = app
    app.healthy_hook = on_healthy
    app.hw.start_watchdog()
    try:
        import _thread
    except ImportError:
        run(app, time, None, crashlog.DEFAULT_PATH)
        return app
    _thread.stack_size(16 * 1024)
    _thread.start_new_thread(run, (app, time, None, crashlog.DEFAULT_PATH))
    return app


if __name__ == "__main__":
    # The board runs this file at boot: the loader picks the application slot
    # (an update's trial, a rollback) and starts ``main.main`` from it.
    import loader
    loader.start()
