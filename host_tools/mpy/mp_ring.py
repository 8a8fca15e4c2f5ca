"""Ring frames built inside MicroPython (tests, benchmark, virtual board).

MicroPython subset. Uses the firmware's CRC: where an encoder independent of the
firmware matters (the simulator, the doc vectors) ``host_tools/ring.py`` is used.
``TEST_BOARD`` is a minimal ESP32 board dict for the same uses.
"""
import link

TEST_BOARD = {
    "name": "test", "chip": "esp32",
    "link_uart": {"id": 2, "tx": 17, "rx": 16, "baudrate": 115200},
    "outputs": {"load_disconnect": {"pin": 25}, "charge_disconnect": {"pin": 26},
                "pre_alarm": {"pin": 27}, "status_led": {"pin": 2}},
    "inputs": {"remote_l": {"adc_pin": 34, "divider_x1000": 22277},
               "remote_h": {"adc_pin": 35, "divider_x1000": 22277}},
}


def _put16(buf, i, v):
    v &= 0xFFFF
    buf[i] = v & 0xFF
    buf[i + 1] = v >> 8


def record(addr, cells, temps, spos=1, serial=b"SN", current_ma=0, capacity_ah=100):
    """One battery record (docs/link-protocol.md); mV, 0.1 degC, mA."""
    n = len(cells)
    m = len(temps)
    r = bytearray(29 + 2 * n + 2 * m)
    r[0] = len(r)
    r[1] = addr
    for i in range(len(serial)):
        r[2 + i] = serial[i]
    _put16(r, 14, capacity_ah)
    _put16(r, 16, 0x0104)
    _put16(r, 18, sum(cells))
    c = current_ma & 0xFFFFFFFF
    for k in range(4):
        r[20 + k] = (c >> (8 * k)) & 0xFF
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
    f = bytearray(8 + len(payload) + 2)
    f[0] = 0xAA
    f[1] = 0x55
    f[2] = 1
    f[3] = 1
    f[4] = seq & 0xFF
    f[5] = len(records) if hop is None else hop
    _put16(f, 6, len(payload))
    f[8:8 + len(payload)] = payload
    _put16(f, len(f) - 2, link.crc16(f, 2, 8 + len(payload)))
    return f
