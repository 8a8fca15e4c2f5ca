"""The virtual board's world: a simulated battery ring on the link UART and the
tick that drives the BMS between REPL input (the WebAssembly port has no threads).

``start(board="board.json", cells_mv=3300)`` builds the BMS exactly as
``main.build`` does on a board, attaches ``diag`` and starts ticking it; the host
calls ``tick()`` every 100 ms.
"""
import machine

import link

_state = {"app": None, "t": 0, "cells": [3300, 3301, 3302, 3303], "uart": None}


def _answer(seq):
    cells = _state["cells"]
    r = bytearray(39)
    r[0] = 39
    r[1] = 1
    sn = b"VBOARD0001"
    for i in range(len(sn)):
        r[2 + i] = sn[i]
    r[14] = 100
    r[16] = 4
    r[17] = 1
    mv = sum(cells)
    r[18] = mv & 0xFF
    r[19] = mv >> 8
    r[26] = 1
    r[27] = 4
    r[28] = 1
    for k in range(4):
        r[29 + 2 * k] = cells[k] & 0xFF
        r[30 + 2 * k] = cells[k] >> 8
    r[37] = 215
    f = bytearray(10 + 39)
    f[0] = 0xAA
    f[1] = 0x55
    f[2] = 1
    f[3] = 1
    f[4] = seq
    f[5] = 1
    f[6] = 39
    f[8:47] = r
    crc = link.crc16(f, 2, 47)
    f[47] = crc & 0xFF
    f[48] = crc >> 8
    return f


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
    while i + 10 <= len(sent):
        uart.feed(_answer(sent[i + 4]))
        i += 10
    _state["t"] = (_state["t"] + 100) % (1 << 30)
    app.tick(_state["t"])
