"""The virtual board's world: a simulated battery ring on the link UART, the
Bluetooth radio (``bluetooth`` is the host's mock, ``host_tools/ble_mock.py``)
with simulated phones, and the tick that drives the BMS between REPL input (the
WebAssembly port has no threads).

``start(board="board.json", cells_mv=3300)`` builds the BMS exactly as
``main.build`` does on a board, attaches ``diag`` and starts ticking it; the host
calls ``tick()`` every 100 ms. ``phones(n)`` connects and pairs ``n`` phones that
read and write commands every second; ``timing()`` reports the tick's period and
duration and the radio events' duration (the jitter figures of ``make bench``).
"""
import machine

import link
import mp_ring

_state = {"app": None, "t": 0, "cells": [3300, 3301, 3302, 3303], "uart": None, "phones": [], "last_us": None}
_timing = {"periods": [], "ticks": [], "irq": []}


def _us():
    # Microseconds from the host's clock (this port's ticks_us counts whole ms).
    import vboard_host
    return vboard_host.now_us()


def _us_diff(a, b):
    return (a - b) % 1073741824


def _answer(seq):
    return mp_ring.frame(seq, [mp_ring.record(1, _state["cells"], (215,), serial=b"VBOARD0001")])


def start(board_path="board.json"):
    import main
    import diag
    machine.install("esp32")
    uart = machine.MemoryBackend()
    _state["uart"] = uart
    machine.attach_uart(2, uart)
    machine.set_adc_mv(34, 300)       # remote L-H loop
    machine.set_adc_mv(35, 300)
    import board
    b = board.load(board_path)
    _power_sensors(b)
    import bluetooth
    import cryptolib
    bluetooth.reset()
    app = main.build(b, bt=bluetooth, urandom=cryptolib.urandom)
    diag.attach(app)
    _state["app"] = app
    import vboard_host          # the Node side: calls tick() every 100 ms from now on
    vboard_host.start_ticking(tick)
    return app


def _power_sensors(b):
    # The power ports at rest: 25 degC NTCs (half the supply), a 13.2 V bank, the
    # engine off, no current; System+ follows the bank while its gates conduct.
    analog = b.get("analog", {})
    levels = {}
    for name in analog:
        a = analog[name]
        if name in ("alternator_temp", "bms_temp"):
            mv = a["supply_mv"] // 2
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


def _system_plus():
    lv = _state.get("power", {})
    if "system_v" not in lv or "lithium_v" not in lv:
        return
    on = False
    for pin in _state["sys_pins"]:
        if machine.level(pin) == 1:
            on = True
    machine.set_adc_mv(lv["system_v"][0], lv["lithium_v"][1] if on else 0)


def set_cells(*mv):
    _state["cells"] = list(mv)


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
    app = _state["app"]
    if app is None:
        return
    now = _us()
    if _state["last_us"] is not None:
        _timing["periods"].append(_us_diff(now, _state["last_us"]))
    _state["last_us"] = now
    if _state["phones"]:
        _phone_traffic()
    uart = _state["uart"]
    sent = uart.take_sent()
    i = 0
    while i + link.POLL_LEN <= len(sent):      # each poll: POLL_LEN bytes, sequence at 4
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
