"""Helpers for the portable tests (MicroPython subset: they run under both interpreters)."""
import machine

import link as L

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


def record(addr, cells, temps, spos=1, serial=b"SN", current_ma=0):
    n = len(cells)
    m = len(temps)
    r = bytearray(29 + 2 * n + 2 * m)
    r[0] = len(r)
    r[1] = addr
    for i in range(len(serial)):
        r[2 + i] = serial[i]
    r[14] = 100
    r[16] = 4
    r[17] = 1
    mv = 0
    for v in cells:
        mv += v
    r[18] = mv & 0xFF
    r[19] = mv >> 8
    c = current_ma & 0xFFFFFFFF
    for k in range(4):
        r[20 + k] = (c >> (8 * k)) & 0xFF
    r[26] = spos
    r[27] = n
    r[28] = m
    j = 29
    for v in cells:
        r[j] = v & 0xFF
        r[j + 1] = v >> 8
        j += 2
    for t in temps:
        t &= 0xFFFF
        r[j] = t & 0xFF
        r[j + 1] = t >> 8
        j += 2
    return bytes(r)


def frame(seq, records, hop=None):
    payload = b"".join(records)
    f = bytearray(8 + len(payload) + 2)
    f[0] = 0xAA
    f[1] = 0x55
    f[2] = 1
    f[3] = 1
    f[4] = seq
    f[5] = len(records) if hop is None else hop
    f[6] = len(payload) & 0xFF
    f[7] = len(payload) >> 8
    f[8:8 + len(payload)] = payload
    crc = L.crc16(f, 2, 8 + len(payload))
    f[-2] = crc & 0xFF
    f[-1] = crc >> 8
    return bytes(f)


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
