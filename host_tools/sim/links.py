"""How the simulated ring's bytes reach the firmware, and the MicroPython firmware.

``PtyLink``: over a pseudo-terminal that the firmware's UART (pyserial, through
the pin mock) opens. ``MemoryLink``: in memory. ``InBandLink``: inside the
lockstep messages of ``MicroPythonFirmware``, the firmware's main loop running in
MicroPython 1.27 (host_tools/mpy/sim_host.mjs).
"""
import glob
import json
import os
import select
import time
import tty

import host_tools


class PtyLink:
    """The ring's far end on a pseudo-terminal: the firmware's UART opens the slave
    through pyserial, the simulator reads and writes the master."""

    def __init__(self, pin_mock, uart_id, baudrate):
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.backend = pin_mock.SerialBackend(self.path, baudrate)
        pin_mock.attach_uart(uart_id, self.backend)
        self._seen = 0

    def take_sent(self):
        """Every byte the firmware wrote so far and not yet taken (waits for the kernel)."""
        out = bytearray()
        deadline = time.monotonic() + 2.0
        while self._seen < self.backend.tx_total:
            r, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                raise RuntimeError("pty: %d bytes written by the firmware never arrived"
                                   % (self.backend.tx_total - self._seen))
            data = os.read(self.master, 65536)
            self._seen += len(data)
            out += data
        return bytes(out)

    def deliver(self, data):
        before = self.backend.in_waiting()
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                select.select([], [self.master], [], 1.0)
                continue
            view = view[n:]
        deadline = time.monotonic() + 2.0
        while self.backend.in_waiting() < before + len(data):
            if time.monotonic() > deadline:
                raise RuntimeError("pty: response bytes never reached the firmware's UART")
            # Wait on the slave's readiness, not a sleep: a sleep costs at least
            # 0.1 ms a delivery, and the link delivers up to 10 answers a second.
            select.select([self._slave], [], [], 0.001)

    def close(self):
        self.backend.close()
        os.close(self.master)
        os.close(self._slave)


class MemoryLink:
    """The same, in memory (no pty): for quick unit-level runs."""

    def __init__(self, pin_mock, uart_id, baudrate):
        self.backend = pin_mock.MemoryBackend()
        pin_mock.attach_uart(uart_id, self.backend)
        self.path = "memory"

    def take_sent(self):
        return self.backend.take_sent()

    def deliver(self, data):
        self.backend.feed(data)

    def close(self):
        pass


class MicroPythonFirmware:
    """The firmware's main loop inside MicroPython (host_tools/mpy/sim_host.mjs),
    in lockstep: ``start(config)`` and each ``exchange(reply)`` return the next
    message the firmware's clock sent from ``sleep_ms``."""

    def __init__(self):
        import subprocess
        mpy = os.path.join(host_tools.ROOT, "host_tools", "mpy")
        self.proc = subprocess.Popen(["node", os.path.join(mpy, "sim_host.mjs")], cwd=mpy, text=True, bufsize=1,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        files = {}
        for path in sorted(glob.glob(os.path.join(host_tools.FIRMWARE_DIR, "*.py"))):
            files["/lib/" + os.path.basename(path)] = open(path).read()
        files["/lib/machine.py"] = open(os.path.join(host_tools.ROOT, "host_tools", "pin_mock.py")).read()
        files["/lib/sim_driver.py"] = open(os.path.join(mpy, "sim_driver.py")).read()
        self.files = files

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("MicroPython ended without a word")
        msg = json.loads(line)
        if "error" in msg:
            raise RuntimeError("firmware raised under MicroPython:\n" + msg["error"])
        return msg

    def start(self, config):
        self.proc.stdin.write(json.dumps({"files": self.files, "config": json.dumps(config)}) + "\n")
        return self._read()

    def exchange(self, reply):
        self.proc.stdin.write(json.dumps(reply) + "\n")
        return self._read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()


class InBandLink:
    """The ring's bytes carried in the lockstep messages (MicroPython mode)."""

    path = "MicroPython, in lockstep"

    def __init__(self):
        self.sent = b""
        self.rx = bytearray()

    def take_sent(self):
        out, self.sent = self.sent, b""
        return out

    def deliver(self, data):
        self.rx += data

    def close(self):
        pass
