"""The control tick's timing with Bluetooth busy, in the virtual board (issue 9).

Starts the virtual board (WebAssembly MicroPython in Node, ``host_tools/mpy/
vboard.mjs``) with the firmware, a simulated battery and the mock radio, and
runs three phases of ``seconds`` each: Bluetooth off; advertising (Instant
Readout, no phone); four paired phones each reading the live value and sending
a command every second, with notifications going out. For each phase it
reports the period between tick starts (the loop's jitter), the tick's own
duration and the phones' radio events' duration (what can delay a tick's start
on the board, where those events take the interpreter's lock).

The virtual board is ticked by a Node timer, so the period includes Node's own
timer jitter: the "off" phase is the baseline. Durations are the WebAssembly
interpreter's on this host; docs/ble.md scales them to the ESP32.
"""
import glob
import json
import os
import re
import subprocess
import time

import host_tools

MPY_DIR = os.path.join(host_tools.ROOT, "host_tools", "mpy")


def _preload():
    out = [p + ":" + os.path.basename(p) for p in glob.glob(os.path.join(host_tools.FIRMWARE_DIR, "*.py"))]
    out += [os.path.join(host_tools.ROOT, "host_tools", "pin_mock.py") + ":machine.py",
            os.path.join(MPY_DIR, "mp_ring.py") + ":mp_ring.py",
            os.path.join(MPY_DIR, "vboard_lib", "vboard_rt.py") + ":vboard_rt.py",
            os.path.join(host_tools.ROOT, "host_tools", "ble_mock.py") + ":bluetooth.py",
            os.path.join(MPY_DIR, "mp_cryptolib.py") + ":cryptolib.py",
            host_tools.board_path("esp32-devkitc") + ":board.json"]
    return out


class _Board:
    def __init__(self):
        self.proc = subprocess.Popen(["node", os.path.join(MPY_DIR, "vboard.mjs")] + _preload(), cwd=MPY_DIR,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     bufsize=0)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\r")
        self.proc.stdin.flush()

    def read_until(self, pattern, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                data = self.proc.stdout.read()
            except BlockingIOError:
                data = None
            if data:
                self.buf += data
            m = re.search(pattern, self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            time.sleep(0.05)
        raise RuntimeError("virtual board: no %r in %r" % (pattern, self.buf[-400:]))

    def query(self, expr, timeout=30):
        self.send("print('@@' + json.dumps(%s) + '@@')" % expr)
        return json.loads(self.read_until(rb"@@(.*?)@@\r?\n", timeout).group(1))

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=5)


def run(seconds=10):
    b = _Board()
    try:
        b.read_until(rb">>> ", 30)
        b.send("import json, vboard_rt, diag")
        b.send("app = vboard_rt.start('/lib/board.json')")
        b.read_until(rb">>> ", 30)
        phases = {}
        b.send("diag.set('bluetooth', 'off', app)")
        time.sleep(1)
        b.query("vboard_rt.timing(True)")
        time.sleep(seconds)
        phases["off"] = b.query("vboard_rt.timing(True)")
        b.send("diag.set('bluetooth', 'on', app)")
        time.sleep(1.5)
        b.query("vboard_rt.timing(True)")
        time.sleep(seconds)
        phases["advertising"] = b.query("vboard_rt.timing(True)")
        b.query("vboard_rt.phones(4)")
        time.sleep(1)
        b.query("vboard_rt.timing(True)")
        time.sleep(seconds)
        phases["four_phones"] = b.query("vboard_rt.timing(True)")
        phases["radio"] = b.query("{'adverts': app.radio.adverts, 'notifies': app.radio.notifies, "
                                  "'commands_ok': app.radio.commands_ok, 'refused': app.radio.commands_refused, "
                                  "'ble_state': app.status.ble_state}")
        return {"seconds_per_phase": seconds, "period_goal_ms": 100, "phases": phases,
                "interpreter": "MicroPython 1.27 WebAssembly (virtual board)"}
    finally:
        b.close()
