"""Ring frames built inside MicroPython (tests, benchmark, virtual board).

MicroPython subset. Uses ``binascii.crc32`` directly, not the firmware's decoder:
where an encoder independent of the firmware matters (the simulator, the doc
vectors) ``host_tools/ring.py`` is used. These helpers allocate freely; they are
not part of the firmware. ``TEST_BOARD`` is a minimal ESP32 board dict for the
same uses.
"""
import binascii

from frame import put_seq_crc

TEST_BOARD = {
    "name": "test", "chip": "esp32",
    "link_uart": {"id": 2, "tx": 17, "rx": 16, "baudrate": 115200},
    "outputs": {"load_disconnect": {"pin": 25}, "charge_disconnect": {"pin": 26},
                "pre_alarm": {"pin": 27}, "status_led": {"pin": 2}},
    "inputs": {"remote_l": {"adc_pin": 34, "divider_x1000": 22277},
               "remote_h": {"adc_pin": 35, "divider_x1000": 22277}},
}

# TEST_BOARD with the power ports of boards/esp32-devkitc.json (alternator gate PWM,
# System+ gates and pre-charge, the sensors, the comparator).
_NTC = {"r25_ohm": 10000, "beta": 3950, "series_ohm": 10000, "supply_mv": 3300}
POWER_BOARD = dict(TEST_BOARD)
POWER_BOARD["outputs"] = dict(TEST_BOARD["outputs"])
POWER_BOARD["outputs"].update({
    "alternator_port": {"pin": 18, "pwm_hz": 20000}, "system_charge": {"pin": 19},
    "system_discharge": {"pin": 23}, "system_precharge": {"pin": 22}, "led_alternator": {"pin": 21},
    "led_bms_temp": {"pin": 5}, "led_bms_active": {"pin": 15}})
POWER_BOARD["analog"] = {
    "alternator_a": {"adc_pin": 36, "zero_uv": 100000, "gain": 20},
    "alternator_v": {"adc_pin": 39, "divider_x1000": 6000}, "lithium_v": {"adc_pin": 32, "divider_x1000": 6000},
    "system_v": {"adc_pin": 33, "divider_x1000": 6000}, "alternator_temp": dict(adc_pin=13, **_NTC),
    "bms_temp": dict(adc_pin=14, **_NTC)}
POWER_BOARD["short_circuit"] = {"pin": 4, "active_high": True}
# ADC pin mV on POWER_BOARD: 14.4 V input, 13.3 V bank and System+, 25 °C, and the
# fuse drop (125 A fuse, 450 µΩ, gain 20, 100 mV at 0 A) at 90 A and 110 A
# (either side of that fuse's 100 A limit).
POWER_ADC_MV = {39: 2400, 32: 2217, 33: 2217, 13: 1650, 14: 1650, 36: 910}
FUSE_LOW_MV = 910
FUSE_HIGH_MV = 1090

VERSION = 2
HEADER_LEN = 8
CRC_LEN = 4


def _put16(buf, i, v):
    v &= 0xFFFF
    buf[i] = v & 0xFF
    buf[i + 1] = v >> 8


def _put_crc(buf, i, crc):
    for k in range(4):
        buf[i + k] = (crc >> (8 * k)) & 0xFF


def record(addr, cells, temps, spos=1, serial=b"SN", current_ma=0, capacity_ah=100,
           flags=0, voltage_mv=None):
    """One battery record (docs/link-protocol.md); mV, 0.1 degC, mA.

    ``voltage_mv`` defaults to the sum of ``cells``. Values are written as given
    (16 or 32 bits wide), not limited to the physical ranges, so tests can send
    what the BMS must reject.
    """
    n = len(cells)
    m = len(temps)
    r = bytearray(29 + 2 * n + 2 * m)
    r[0] = len(r)
    r[1] = addr
    for i in range(len(serial)):
        r[2 + i] = serial[i]
    _put16(r, 14, capacity_ah)
    _put16(r, 16, 0x0104)
    _put16(r, 18, sum(cells) if voltage_mv is None else voltage_mv)
    for k in range(4):
        r[20 + k] = (current_ma >> (8 * k)) & 0xFF
    _put16(r, 24, flags)
    r[26] = spos
    r[27] = n
    r[28] = m
    j = 29
    for v in cells:
        _put16(r, j, v)
        j += 2
    for t in temps:
        _put16(r, j, t)
        j += 2
    return bytes(r)


def frame(seq, records, hop=None):
    """A returning POLL frame with ``records``; ``hop`` defaults to their number."""
    payload = b"".join(records)
    n = HEADER_LEN + len(payload)
    f = bytearray(n + CRC_LEN)
    f[0] = 0xAA
    f[1] = 0x55
    f[2] = VERSION
    f[3] = 1
    f[4] = seq & 0xFF
    f[5] = len(records) if hop is None else hop
    _put16(f, 6, len(payload))
    f[HEADER_LEN:n] = payload
    _put_crc(f, n, binascii.crc32(memoryview(f)[2:n]))
    return f


def seq_crc_table(f):
    """For a frame ``f``: the CRC bytes of ``f`` with sequence 0 and, per bit k of
    the sequence, the bytes that bit flips (36 bytes). CRC-32 of equal-length
    messages is affine, so XOR-ing them gives the CRC for any sequence without a
    big int (see ``patch_seq``; firmware/link.py builds its POLL the same way)."""
    f = bytearray(f)
    n = len(f) - CRC_LEN
    table = bytearray(36)
    f[4] = 0
    base = binascii.crc32(memoryview(f)[2:n])
    _put_crc(table, 0, base)
    for k in range(8):
        f[4] = 1 << k
        _put_crc(table, 4 + 4 * k, binascii.crc32(memoryview(f)[2:n]) ^ base)
    return table


def patch_seq(f, seq, table):
    """Set frame ``f``'s sequence to ``seq`` and its CRC, in place, allocating nothing."""
    f[4] = seq
    put_seq_crc(f, len(f) - CRC_LEN, seq, table)


class QuietUart:
    """A UART stand-in that allocates nothing: answers each poll with one prebuilt
    frame whose sequence and CRC-32 are patched in place (computing the CRC per
    poll would allocate a big int 3 times out of 4). For the allocation tests and
    the memory benchmark."""

    def __init__(self, f):
        self.frame = bytearray(f)
        self.table = seq_crc_table(self.frame)
        self.pending = 0
        self.pos = 0
        self._fmv = memoryview(self.frame)
        self._views = {}
        self._buf = None
        self._bmv = None

    def write(self, buf):
        patch_seq(self.frame, buf[4], self.table)
        self.pending = len(self.frame)
        self.pos = 0
        return len(buf)

    def any(self):
        return self.pending - self.pos

    def readinto(self, buf):
        # Copied in C, as the board's UART does: memoryview slices assigned from a
        # view of the same length. The views are made once per (place, length) and
        # kept, so the steady state allocates nothing (a byte loop here would be
        # timed as if it were the firmware's).
        k = self.any()
        if k > len(buf):
            k = len(buf)
        if k <= 0:
            return 0
        if buf is not self._buf:
            self._buf = buf
            self._bmv = memoryview(buf)
        key = self.pos * 65536 + k
        v = self._views.get(key)
        if v is None:
            v = self._fmv[self.pos:self.pos + k]
            self._views[key] = v
        self._bmv[0:k] = v
        self.pos += k
        return k


class QuietPin:
    """A pin that logs nothing (the pin mock records every transition for tests;
    the board's pins are C and keep nothing)."""

    def value(self, v=None):
        return 0


class QuietPwm:
    def duty_u16(self, d=None):
        return 0


def power_board(machine):
    """The pin mock as an ESP32 with POWER_BOARD's sensors at rest (the remote's
    L-H loop closed); returns the validated board."""
    import board
    machine.install("esp32")
    machine.set_adc_mv(34, 300)
    machine.set_adc_mv(35, 300)
    for pin in POWER_ADC_MV:
        machine.set_adc_mv(pin, POWER_ADC_MV[pin])
    return board.validate(POWER_BOARD)


def quiet_pins(h):
    """Swap ``h``'s (``hw.Hardware``) pins and PWM outputs for stand-ins that log nothing."""
    for i in range(len(h._pins)):
        if h._pins[i] is not None:
            h._pins[i] = QuietPin()
        if h._pwm[i] is not None:
            h._pwm[i] = QuietPwm()
