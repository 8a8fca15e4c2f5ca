"""The virtual board's world: a simulated battery ring on the link UART and the
tick that drives the BMS between REPL input (the WebAssembly port has no threads).

``start(board="board.json", cells_mv=3300)`` builds the BMS exactly as
``main.build`` does on a board, attaches ``diag`` and starts ticking it; the host
calls ``tick()`` every 100 ms.
"""
import machine

import link
import mp_ring

_state = {"app": None, "t": 0, "cells": [3300, 3301, 3302, 3303], "uart": None}


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
    app = main.build(b)
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


def tick():
    app = _state["app"]
    if app is None:
        return
    uart = _state["uart"]
    sent = uart.take_sent()
    i = 0
    while i + link.POLL_LEN <= len(sent):      # each poll: POLL_LEN bytes, sequence at 4
        uart.feed(_answer(sent[i + 4]))
        i += link.POLL_LEN
    _state["t"] = (_state["t"] + 100) % (1 << 30)
    app.tick(_state["t"])
    _system_plus()
