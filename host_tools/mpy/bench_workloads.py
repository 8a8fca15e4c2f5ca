"""Allocation of the control tick under a table of workloads, run inside MicroPython.

``run(ticks)`` returns ``{workload: bytes allocated per steady-state tick}``. Each
workload boots a BMS on the pin mock (pins and PWM swapped for stand-ins that log
nothing: on the board they are C), brings it to the state named, warms up (every
code path once, settings applied) and then counts ``gc.mem_alloc`` across
``ticks`` ticks with the collector off. Issue 10: each must be 0.

Workloads: ``quiet`` (20 x 4 cells), ``alarm_continuous`` / ``alarm_intermittent``
(a low cell: W-B01, the lead, A-B01, the pre-alarm in each mode), ``noisy_link``
(every other answer corrupt: rejected frames), ``link_lost`` (the ring goes
quiet after readings: W-B05, then A-B05 in the measured ticks), ``bank_48v_13kw`` (16-cell batteries at 250 A), ``late_ticks`` (200 ms
apart), ``bank_50x16`` (50 batteries of 16 cells), ``ble_advertising`` (the
Bluetooth radio on a radio and cipher that allocate nothing, as the board's C
ones), ``regulator`` (the alternator duty moving every tick).
"""
import gc

import machine
import bms
import hw
import inbox
import mp_ring
import settings

_WRAP = (1 << 30) - 1


class Silent:
    def write(self, buf):
        return len(buf)

    def any(self):
        return 0

    def readinto(self, buf):
        return 0


class Noisy(mp_ring.QuietUart):
    """Every other answer has one payload byte flipped (a CRC error), in place."""

    def __init__(self, f):
        mp_ring.QuietUart.__init__(self, f)
        self.n = 0
        self._orig = self.frame[10] & 0x40

    def write(self, buf):
        r = mp_ring.QuietUart.write(self, buf)
        self.n += 1
        if self.n & 1:
            self.frame[10] ^= 0x40
        return r

    def readinto(self, buf):
        k = mp_ring.QuietUart.readinto(self, buf)
        if self.pos >= self.pending and self.n & 1 and self.frame[10] & 0x40 != self._orig:
            self.frame[10] ^= 0x40
        return k


class StubBle:
    """``bluetooth.BLE`` whose calls are no-ops, as the board's C methods allocate nothing."""

    def active(self, *a):
        return True

    def config(self, *a, **k):
        return None

    def irq(self, h):
        pass

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        pass

    def gatts_register_services(self, services):
        return ((1, 3, 5, 7, 9, 11),)

    def gatts_set_buffer(self, h, n, append=False):
        pass

    def gatts_write(self, h, data, send_update=False):
        pass

    def gatts_notify(self, c, h, data=None):
        pass

    def gap_disconnect(self, c):
        return True


class StubBt:
    _ble = StubBle()

    @staticmethod
    def BLE():  # noqa: N802
        return StubBt._ble

    @staticmethod
    def UUID(v):  # noqa: N802
        return v


class NoCipher:
    def encrypt(self, a, b):
        return None


def _frame(batteries, cells, current_ma=-2000, low=False):
    c = [3300 + (k % 4) for k in range(cells)]
    if low:
        c[1] = 2700
    return mp_ring.frame(0, [mp_ring.record(i + 1, c, (200,), current_ma=current_ma) for i in range(batteries)])


NG = "smallbms_ng"


def _boot(uart, overrides=None, profile="smart_bms_12_200"):
    # Banks of more than 5 batteries, or above 12 V, run as a smallBMS NG (the
    # 12/200 takes 5 batteries at 12 V: models).
    h = hw.Hardware(mp_ring.power_board(machine))
    h.uart = uart
    s = settings.Settings()
    if overrides:
        s.update(overrides)
    app = bms.Bms(h, s, None, profile)
    mp_ring.quiet_pins(h)
    return app


def _measure(app, ticks, period, warm, swing=False):
    now = app._last_ms if app._last_ms is not None else (_WRAP - 20000)
    for i in range(warm):
        now = (now + period) & _WRAP
        app.tick(now)
        if i == warm // 2:
            app.inbox.post((inbox.SET_SOC, 80))   # counting and time-to-go run in the measured ticks
    total = 0
    for i in range(ticks):
        if swing:
            machine.set_adc_mv(36, mp_ring.FUSE_LOW_MV if i & 1 else mp_ring.FUSE_HIGH_MV)
        now = (now + period) & _WRAP
        gc.disable()
        a = gc.mem_alloc()
        app.tick(now)
        total += gc.mem_alloc() - a
        gc.enable()
    return total / ticks


def _ble(app):
    import ble
    import ble_keys
    keys = ble_keys.BleKeys(lambda n: bytes(n))
    radio = ble.Radio(StubBt, app, keys, lambda n: bytes(n))
    radio.readout._aes = NoCipher()
    app.attach_bluetooth(radio, keys)
    return radio


def _now_us():
    import host_clock
    return host_clock.now_us()


def frame_tick_ms(batteries, cells, polls=20):
    """The time of the tick that parses a ring answer (the slowest kind: frame
    decode, bank aggregates, every detector), in ms on this interpreter: the
    mean and the max over ``polls`` answers, measured with the host's clock."""
    app = _boot(mp_ring.QuietUart(_frame(batteries, cells)), None, NG)
    _measure(app, 1, 100, 30)
    now = app._last_ms
    times = []
    while len(times) < polls:
        now = (now + 100) & _WRAP
        ok = app.link.frames_ok
        t0 = _now_us()
        app.tick(now)
        dt = (_now_us() - t0) % 1073741824
        if app.link.frames_ok != ok:
            times.append(dt)
    return {"mean_ms": sum(times) / len(times) / 1000, "max_ms": max(times) / 1000}


def diag_garbage(batteries=50, cells=16):
    """Bytes one ``diag.status()`` leaves as garbage (its output printed as it
    goes), after a first call that imports what it needs."""
    import diag
    app = _boot(mp_ring.QuietUart(_frame(batteries, cells)), None, NG)
    _measure(app, 1, 100, 30)
    diag.status(app)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    diag.status(app)
    used = gc.mem_alloc() - a
    gc.enable()
    return used


def run(ticks=200):
    out = {}
    q = mp_ring.QuietUart
    out["quiet"] = _measure(_boot(q(_frame(20, 4)), None, NG), ticks, 100, 60)
    for mode in ("continuous", "intermittent"):
        app = _boot(q(_frame(4, 4, low=True)), {"pre_alarm_mode": mode})
        out["alarm_" + mode] = _measure(app, ticks * 2, 100, 40)
        out["alarm_%s_codes" % mode] = ",".join(app.status.active_codes())
    app = _boot(Noisy(_frame(4, 4)))
    _measure(app, 1, 100, 60)
    crc0 = app.link.errors[0]                       # frame.ERR_CRC
    out["noisy_link"] = _measure(app, ticks, 100, 0)
    out["noisy_link_crc_failures"] = app.link.errors[0] - crc0
    out["noisy_link_rejected"] = app.status.link_rejected
    app = _boot(q(_frame(4, 4)))
    _measure(app, 1, 100, 40)
    app.hw.uart = app.link.uart = Silent()          # the ring goes quiet: W-B05 at 3 s, A-B05 30 s later
    out["link_lost"] = _measure(app, 400, 100, 5)
    out["link_lost_codes"] = ",".join(app.status.active_codes())
    app = _boot(q(_frame(2, 16, current_ma=-250000)), None, NG)
    out["bank_48v_13kw"] = _measure(app, ticks, 100, 60)
    out["late_ticks"] = _measure(_boot(q(_frame(20, 4)), None, NG), ticks, 200, 60)
    out["bank_50x16"] = _measure(_boot(q(_frame(50, 16)), None, NG), ticks // 4, 100, 30)
    app = _boot(q(_frame(4, 4)))
    radio = _ble(app)
    out["ble_advertising"] = _measure(app, ticks, 100, 60)
    out["ble_adverts"] = radio.adverts
    app = _boot(q(_frame(4, 4)))
    out["regulator"] = _measure(app, ticks, 100, 60, swing=True)
    out["regulator_state"] = app.alternator.state
    return out
