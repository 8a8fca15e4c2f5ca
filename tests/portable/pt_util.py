"""Helpers for the portable tests (MicroPython subset: they run under both interpreters)."""
import machine

import link as L
from mp_ring import frame, record  # noqa: F401  (re-exported for the tests)

TICKS_PERIOD = 1 << 30


class Clock:
    """A virtual ``time``: ticks_ms wraps at 2**30; ``on_sleep(ms)`` moves the world."""

    def __init__(self, start=0, on_sleep=None):
        self.t = start
        self.elapsed = 0
        self.on_sleep = on_sleep

    def ticks_ms(self):
        return self.t

    def advance(self, ms):
        self.t = (self.t + ms) % TICKS_PERIOD
        self.elapsed += ms

    def sleep_ms(self, ms):
        self.advance(ms)
        if self.on_sleep is not None:
            self.on_sleep(ms)


def fresh(clock=None):
    """A fresh pin mock for the ESP32 on ``clock``."""
    return machine.install("esp32", clock)


def rng(seed):
    """A tiny LCG: the same numbers on both interpreters."""
    state = [seed & 0x7FFFFFFF]

    def nxt(n):
        state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return state[0] % n
    return nxt


class Uart:
    def __init__(self):
        self.rx = bytearray()
        self.sent = bytearray()

    def write(self, b):
        self.sent.extend(b)
        return len(b)

    def any(self):
        return len(self.rx)

    def readinto(self, buf):
        n = min(len(buf), len(self.rx))
        buf[0:n] = self.rx[0:n]
        self.rx = self.rx[n:]
        return n


def polled_master(seq=None):
    lm = L.LinkMaster(Uart())
    lm.service(0)
    if seq is not None:
        lm.seq = seq
    return lm
