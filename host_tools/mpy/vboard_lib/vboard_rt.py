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
    app = main.build(board_path)
    diag.attach(app)
    _state["app"] = app
    import vboard_host          # the Node side: calls tick() every 100 ms from now on
    vboard_host.start_ticking(tick)
    return app


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
