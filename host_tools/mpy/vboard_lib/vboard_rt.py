"""The virtual board's world: a simulated battery ring on the link UART, the
sensors on the board file's pins, the Bluetooth radio (``bluetooth`` is the
host's mock, ``host_tools/ble_mock.py``) with simulated phones, and the tick
that drives the BMS between REPL input (the WebAssembly port has no threads).

``boot()`` is what a board's reset does (the virtual board calls it after a
hard reset or a soft reset at the friendly prompt): ``boot.py``'s safe pins,
then, when the firmware and ``board.json`` are deployed, ``start()``, which
builds the BMS as ``main.build`` does on a board: settings and history on the
filesystem (they survive resets), Bluetooth. docs/vboard.md.

Change the world from the host while it runs, e.g.
``mpremote connect PORT resume exec "import vboard_rt; vboard_rt.set_cells(3300, 2900, 3300, 3300)"``:
``set_cells``, ``set_temperature``, ``set_current``, ``set_batteries``,
``unplug`` / ``plug``, ``bit_errors``, ``battery_fault``, ``remote``,
``set_sensor_temperature``; ``world()`` shows it. ``phones(n)`` connects and
pairs phones; ``timing()`` reports the tick's period and duration.
"""
import machine

# ``link`` and ``mp_ring`` (which uses the firmware's ``frame``) are imported when
# the BMS runs: a board with only the loader on it has no firmware to import
# until its first update lands in a slot (docs/update.md).

_state = {"app": None, "t": 0, "uart": None, "phones": [], "last_us": None, "board": None, "polls": 0}
# The simulated bank: one entry per battery, [cells mV, temperature 0.1 degC, flags].
_world = {"batteries": [[[3300, 3301, 3302, 3303], 215, 0]], "current_ma": 0, "answer": True,
          "corrupt_every": 0, "remote_on": True}
_timing = {"periods": [], "ticks": [], "irq": []}
REMOTE_LOOP_MV = 300        # the L-H loop closed: both terminals near half the bank, through the dividers
REMOTE_OPEN_MV = (1000, 0)  # open: L pulled up to the bank (>= 5 V at the terminal), H at 0


def _us():
    # Microseconds from the host's clock (this port's ticks_us counts whole ms).
    import vboard_host
    return vboard_host.now_us()


def _us_diff(a, b):
    return (a - b) % 1073741824


def _answer(seq):
    import mp_ring
    bats = _world["batteries"]
    n = len(bats)
    recs = []
    for i in range(n):
        cells, temp, flags = bats[i]
        recs.append(mp_ring.record(i + 1, cells, (temp,), serial=("VBOARD%04d" % (i + 1)).encode(),
                                   current_ma=_world["current_ma"] // n, flags=flags))
    f = mp_ring.frame(seq, recs)
    every = _world["corrupt_every"]
    if every and _state["polls"] % every == 0:
        f[len(f) // 2] ^= 0x10               # one flipped bit: the CRC rejects the frame
    return f


def boot(board_path="board.json"):
    """What a reset does on a board: ``boot.py`` (``loader.boot``: the
    application slot, an update's trial counted or rolled back, every output
    off), then ``main.py`` (``loader.start``: the BMS started from that slot,
    confirmed at its first healthy tick, rolled back if it cannot start), if
    the firmware and the board file are deployed. Returns the BMS, or None.
    docs/update.md. (Where no version runs, the board waits 120 s before it
    opens the load output; here it opens at once.)"""
    import os
    try:
        import loader
        import store
        import update
    except ImportError:
        loader = None
    fs = None
    if loader is not None:
        fs = store.OsFs()
        slot = update.boot_choice(fs)
        loader._use(slot)
        board_path = loader.board_path(slot)
    try:
        os.stat(board_path)
        if loader is None:
            import main  # noqa: F401  (deployed?)
    except (OSError, ImportError):
        return None             # nothing deployed (the loader judges a slot's main itself)
    import board
    import hw
    machine.install(board.load(board_path)["chip"])
    hw.safe_pins(board_path)
    if loader is None:
        return start(board_path)
    return loader.start(fs, lambda: _Main, machine.reset, _NoWait)


class _Main:
    """``main`` as the loader starts it, on the virtual board."""

    @staticmethod
    def main(board_path, on_healthy):
        app = start(board_path)
        app.healthy_hook = on_healthy
        return app


class _NoWait:
    @staticmethod
    def ticks_ms():
        return 0

    @staticmethod
    def ticks_diff(a, b):
        return 1 << 29

    @staticmethod
    def sleep_ms(ms):
        pass


def start(board_path="board.json"):
    """Build the BMS on the board file's pins as ``main.build`` does (settings and
    history on the filesystem, Bluetooth), attach ``diag`` and start ticking it."""
    import board
    import bluetooth
    import cryptolib
    import diag
    import main
    import store
    b = board.load(board_path)
    machine.install(b["chip"])
    _state["board"] = b
    uart = machine.MemoryBackend()
    _state["uart"] = uart
    machine.attach_uart(b["link_uart"]["id"], uart)
    _apply_remote()
    _power_sensors(b)
    bluetooth.reset()
    app = main.build(b, fs=store.OsFs(), bt=bluetooth, urandom=cryptolib.urandom)
    import bms
    bms.running = app
    diag.attach(app)
    _state["app"] = app
    import vboard_host          # the Node side: calls tick() every 100 ms from now on
    vboard_host.start_ticking(tick)
    return app


def _apply_remote():
    b = _state["board"]
    if b is None:
        return
    ins = b["inputs"]
    l_mv, h_mv = (REMOTE_LOOP_MV, REMOTE_LOOP_MV) if _world["remote_on"] else REMOTE_OPEN_MV
    machine.set_adc_mv(ins["remote_l"]["adc_pin"], l_mv)
    machine.set_adc_mv(ins["remote_h"]["adc_pin"], h_mv)


def _ntc_mv(a, c):
    # The NTC's divider output at ``c`` degC (10k to the supply, NTC to ground).
    import math
    r = a["r25_ohm"] * math.exp(a["beta"] * (1.0 / (c + 273.15) - 1.0 / 298.15))
    return int(a["supply_mv"] * r / (r + a["series_ohm"]))


def _power_sensors(b):
    # The power ports at rest: 25 degC NTCs, a 13.2 V bank, the engine off, no
    # current; System+ follows the bank while its gates conduct.
    analog = b.get("analog", {})
    levels = {}
    for name in analog:
        a = analog[name]
        if name in ("alternator_temp", "bms_temp"):
            mv = _ntc_mv(a, 25.0)
        elif name == "lithium_v":
            mv = 13200 * 1000 // a["divider_x1000"]
        elif name == "alternator_a":
            mv = a["zero_uv"] // 1000
        else:
            mv = 0
        levels[name] = (a["adc_pin"], mv)
        machine.set_adc_mv(a["adc_pin"], mv)
    _state["power"] = levels
    outs = b["outputs"]
    _state["sys_pins"] = [outs[n]["pin"] for n in ("system_discharge", "system_precharge") if n in outs]
    cur = b.get("current", {})
    if cur.get("source") == "shunt":
        machine.set_adc_mv(cur["adc_pin"], cur["zero_uv"] // 1000)


def _system_plus():
    lv = _state.get("power", {})
    if "system_v" not in lv or "lithium_v" not in lv:
        return
    on = False
    for pin in _state["sys_pins"]:
        if machine.level(pin) == 1:
            on = True
    machine.set_adc_mv(lv["system_v"][0], lv["lithium_v"][1] if on else 0)


# ----- the world, from the host --------------------------------------------
def set_cells(*mv, battery=0):
    """Cell voltages in mV of ``battery`` (1-based; 0 = every battery)."""
    for i in _which(battery):
        _world["batteries"][i][0] = list(mv)


def set_temperature(c, battery=0):
    """Battery temperature in degC of ``battery`` (1-based; 0 = every battery)."""
    for i in _which(battery):
        _world["batteries"][i][1] = int(round(c * 10))


def set_current(a):
    """The bank current in A (+ = charging), split evenly over the batteries;
    on a board with a shunt, the shunt reads it too."""
    _world["current_ma"] = int(round(a * 1000))
    b = _state["board"]
    cur = b.get("current", {}) if b else {}
    if cur.get("source") == "shunt":
        machine.set_adc_mv(cur["adc_pin"], (cur["zero_uv"] + int(a * cur["uv_per_a"])) // 1000)


def set_batteries(n):
    """``n`` batteries in parallel (1..50), each a copy of battery 1."""
    if not 1 <= n <= 50:
        raise ValueError("1..50 batteries")
    first = _world["batteries"][0]
    _world["batteries"] = [[list(first[0]), first[1], first[2]] for _ in range(n)]


def unplug():
    """The M8 cable unplugged: the ring stops answering."""
    _world["answer"] = False


def plug():
    """Plugged back: the ring answers again."""
    _world["answer"] = True


def bit_errors(every=10):
    """Flip one bit in every ``every``-th answer (the CRC rejects it); 0 stops it."""
    _world["corrupt_every"] = every


def battery_fault(battery=1, on=True):
    """``battery`` (1-based) reports an internal fault (its flags' bit 1), or stops."""
    f = _world["batteries"][battery - 1]
    f[2] = (f[2] | 2) if on else (f[2] & ~2)


def remote(on):
    """The remote on/off terminals: True = the L-H loop closed (on), False = open."""
    _world["remote_on"] = bool(on)
    _apply_remote()


def set_sensor_temperature(name, c):
    """An NTC of the board file's ``analog`` section (``"bms_temp"``,
    ``"alternator_temp"``) at ``c`` degC; ValueError if the board has none."""
    b = _state["board"]
    a = b.get("analog", {}).get(name) if b else None
    if a is None or "beta" not in a:
        raise ValueError("this board has no %s sensor" % name)
    machine.set_adc_mv(a["adc_pin"], _ntc_mv(a, c))


def world():
    """The simulated world now (a dict): batteries, current, link, remote."""
    return {"batteries": len(_world["batteries"]), "cells_mv": [b[0] for b in _world["batteries"]],
            "temps_c": [b[1] / 10 for b in _world["batteries"]], "flags": [b[2] for b in _world["batteries"]],
            "current_a": _world["current_ma"] / 1000, "answering": _world["answer"],
            "corrupt_every": _world["corrupt_every"], "remote_on": _world["remote_on"]}


def _which(battery):
    n = len(_world["batteries"])
    if battery == 0:
        return range(n)
    if not 1 <= battery <= n:
        raise ValueError("battery 1..%d" % n)
    return (battery - 1,)


def phones(n=1, pin=0):
    """Connect and pair ``n`` more phones (PIN ``pin``); return their handles.
    Each then reads the live value and sends a command once a second."""
    import bluetooth
    radio = bluetooth.BLE()
    out = []
    for _ in range(n):
        c = radio.connect()
        if not radio.pair(c, pin):
            raise ValueError("pairing refused: wrong PIN")
        ok, tok = radio.read(c, "5ab00010-3c1e-4f7a-9d2e-8b6f0c1e7a51")
        _state["phones"].append([c, tok, 0])
        out.append(c)
    return out


def _phone_traffic():
    # Between ticks, as the radio's events arrive on the board: each phone
    # reads the live value and asks for a setting once a second (every 10th
    # tick, phones spread over the ticks).
    import bluetooth
    radio = bluetooth.BLE()
    n = _state["t"] // 100
    for i in range(len(_state["phones"])):
        p = _state["phones"][i]
        if (n + i) % 10:
            continue
        p[2] += 1
        t0 = _us()
        radio.read(p[0], "5ab00001-3c1e-4f7a-9d2e-8b6f0c1e7a51")
        radio.write(p[0], "5ab00011-3c1e-4f7a-9d2e-8b6f0c1e7a51",
                    p[1] + bytes((p[2] & 0xFF, p[2] >> 8, 1)) + b"charge_limit_v")
        radio.read(p[0], "5ab00012-3c1e-4f7a-9d2e-8b6f0c1e7a51")
        _timing["irq"].append(_us_diff(_us(), t0))


def timing(reset=False):
    """The period between tick starts, the tick's duration and the phones'
    radio events' duration since the last reset (ms: mean, p99, max), as a dict."""
    def stats(xs):
        if not xs:
            return None
        ys = sorted(xs)
        p99 = ys[min(len(ys) - 1, (len(ys) * 99) // 100)]
        return {"n": len(ys), "mean_ms": sum(ys) / len(ys) / 1000, "p99_ms": p99 / 1000,
                "max_ms": ys[-1] / 1000, "min_ms": ys[0] / 1000}
    out = {"period": stats(_timing["periods"]), "tick": stats(_timing["ticks"]), "radio_events": stats(_timing["irq"])}
    if reset:
        for k in _timing:
            _timing[k] = []
    return out


def tick():
    """One control tick (the host calls it every 100 ms): answer the polls sent
    since the last one, then tick the BMS."""
    app = _state["app"]
    if app is None:
        return
    now = _us()
    if _state["last_us"] is not None:
        _timing["periods"].append(_us_diff(now, _state["last_us"]))
    _state["last_us"] = now
    if _state["phones"]:
        _phone_traffic()
    import link
    uart = _state["uart"]
    sent = uart.take_sent()
    i = 0
    while i + link.POLL_LEN <= len(sent):      # each poll: POLL_LEN bytes, sequence at 4
        _state["polls"] += 1
        if _world["answer"]:
            uart.feed(_answer(sent[i + 4]))
        i += link.POLL_LEN
    _state["t"] = (_state["t"] + 100) % (1 << 30)
    t0 = _us()
    app.tick(_state["t"])
    _timing["ticks"].append(_us_diff(_us(), t0))
    if len(_timing["ticks"]) > 2000:        # bounded: the board runs for days
        for k in _timing:
            _timing[k] = _timing[k][-1000:]
    _system_plus()
