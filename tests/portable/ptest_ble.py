"""Portable: Bluetooth on both interpreters. The Instant Readout frames of fixed
states (``frames()``: test_portable.py compares MicroPython's with CPython's byte
for byte), the radio on the mock ``bluetooth`` module (pairing, a command, a
replay, a bond), and no allocation in ``Readout.next`` / ``gatt.Values.fill``.
"""
import binascii
import gc
import struct

import ble as BLE
import ble_keys as K
import codes as C
import frame as F
import gatt as G
import inbox as I
import readout as R
import status as S
from bank import Bank
from mp_ring import record
from settings import Settings

try:
    import ble_mock                      # MicroPython: loaded into /lib by test_portable.py
except ImportError:
    from host_tools import ble_mock      # CPython

KEY = b"\xa1\xb2\xc3\xd4\xe5\xf6\x07\x18\x29\x3a\x4b\x5c\x6d\x7e\x8f\x90"


def make_bank(specs):
    """specs: [(cells, temps, spos, flags)] -> a Bank decoded by the firmware."""
    recs = []
    for i in range(len(specs)):
        cells, temps, spos, flags = specs[i]
        recs.append(record(i + 1, cells, temps, spos=spos, flags=flags))
    payload = b"".join(recs)
    b = Bank()
    assert F.decode_records(payload, 0, len(payload), len(recs), b) == F.DECODE_OK
    return b


def make_status(bank, active=(), current_ma=0, known=True, soc=-1, consumed=0, ttg=-1, allowed=(1, 1, 1, 1, 1),
                balancer=0, flags=0):
    st = S.Status()
    st.bank = bank
    for cid in active:
        st.active[cid] = 1
    st.current_ma = current_ma
    st.current_known = known
    st.soc_pct10 = soc
    st.consumed_mah = consumed
    st.ttg_min = ttg
    for p in range(C.N_PORTS):
        st.allowed[p] = allowed[p]
    st.pre_alarm_out = bool(flags & 1)
    st.remote_on = bool(flags & 2)
    st.alternator_on = bool(flags & 4)
    st.system_charge = bool(flags & 8)
    st.system_discharge = bool(flags & 16)
    st.soft_on = bool(flags & 32)
    st.balancer = balancer
    return st


def states():
    """Fixed states covering both records, NA codes, extremes and codes."""
    out = []
    out.append((make_status(None), 0, 0))
    b1 = make_bank([((3312, 3298, 2600, 3900), (215, -35), 1, 1)])
    out.append((make_status(b1, (C.A_B01, C.W_B07, C.E_B11), -123456, True, 555, -12345, 321,
                            (1, 0, 1, 0, 1), 3, 0x2B), 0xA3E8, 0xFFFE))
    b3 = make_bank([(tuple(2500 + 90 * k for k in range(16)), (-400, 1000), 1, 0),
                    (tuple(3000 + 10 * k for k in range(16)), (123,), 2, 2),
                    (tuple(3850 + k for k in range(16)), (864, 865, 0, -5), 3, 3)])
    out.append((make_status(b3, (C.W_B01, C.A_B09, C.A_A12, C.E_B32, C.E_B01), -3276650, True, 1000, -104857450,
                            0xFFFF, (0, 1, 0, 1, 0), 1, 0x3F), 0x1234, 0x8000))
    b8 = make_bank([(tuple(3200 + k for k in range(8)), (200, 300, 250, 100), 1, 0),
                    (tuple(3210 + k for k in range(8)), (210,), 1, 0)])
    out.append((make_status(b8, (), 3276649, True, 0, 5000, 0, (1, 1, 1, 1, 1), 2, 0x10), 0, 0x1233))
    out.append((make_status(b8, (C.W_B05,), 0, False, 999, -1, 70000, (0, 0, 0, 0, 0), 0, 0), 65535, 7))
    return out


def frames():
    """Every slot's advertisement (hex) for the fixed states: 5 slots each with
    cells, 2 without, then a key change and a repeat. One str."""
    lines = []
    for st, model, nonce in states():
        ro = R.Readout(KEY, model, nonce)
        for _ in range(5):
            ro.next(st, True)
            lines.append(binascii.hexlify(ro.adv).decode())
        for _ in range(2):
            ro.next(st, False)
            lines.append(binascii.hexlify(ro.adv).decode())
        ro.set_key(bytes(range(16)))
        ro.next(st, False)
        lines.append(binascii.hexlify(ro.adv).decode())
        changed = ro.next(st, False)
        lines.append("%s %d %d" % (binascii.hexlify(ro.adv).decode(), changed, ro.nonce))
    v = G.Values()
    for st, _, _ in states():
        v.fill(st)
        lines.append(binascii.hexlify(bytes(v.live) + bytes(v.codes) + bytes(v.battery)).decode())
    return "\n".join(lines)


def test_frames_are_whole_and_sealed():
    f = frames().split("\n")
    assert len(f) == 5 * 9 + 5
    for line in f[:45]:
        adv = binascii.unhexlify(line.split(" ")[0])
        assert len(adv) == 31 and adv[0:7] == b"\x02\x01\x06\x1b\xff\xe1\x02" and adv[7] == 0x10
        assert adv[11] in (R.RECORD_BMS, R.RECORD_BATTERY)
    assert f[8].endswith(" 0 2")          # state 0: nonce 0 -> 1 (first) -> 2 (new key), then unchanged


def test_frames_repeatable():
    assert frames() == frames()


# ---------------------------------------------------------------- the radio on the mock
class App:
    """What the radio and gatt use of ``bms.Bms``: settings and inbox."""

    def __init__(self):
        self.settings = Settings()
        self.inbox = I.Inbox()


def counter_random():
    state = [0]

    def urandom(n):
        out = bytearray(n)
        for i in range(n):
            state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
            out[i] = (state[0] >> 16) & 0xFF
        return bytes(out)
    return urandom


def started():
    ble_mock.reset()
    app = App()
    rnd = counter_random()
    keys = K.BleKeys(rnd)
    radio = BLE.Radio(ble_mock, app, keys, rnd)
    st = make_status(make_bank([((3300, 3300, 3300, 3300), (200,), 1, 0)]), soc=800)
    radio.update(0, st)
    return app, keys, radio, st, ble_mock.BLE()


def cmd(token, seq, op, body=b""):
    return bytes(token) + struct.pack("<H", seq) + bytes([op]) + body


def last_result(m, h):
    r = m.notifications(h, G.RESULT_UUID)[-1]
    return r[0] | (r[1] << 8), r[2]


def test_radio_pairs_accepts_a_command_and_refuses_a_replay():
    app, keys, radio, st, m = started()
    assert radio.on and m.adv is not None and len(m.adv[1]) == 31 and m.adv[3]
    assert m.manufacturer_data()[0] == 0x02E1
    h = m.connect(b"\x01\x02\x03\x04\x05\x06")
    assert m.adv is not None                               # still advertising
    assert m.write(h, G.COMMAND_UUID, cmd(b"\x00" * 4, 1, G.OP_SWITCH, b"\x00")) == 5
    assert m.pair(h, 111111) is False
    assert m.pair(h, 0) is True
    rc, token = m.read(h, G.SESSION_UUID)
    assert rc == 0 and len(token) == 4
    data = cmd(token, 1, G.OP_SET, b'{"cell_uv_trip_v": 2.7}')
    assert m.write(h, G.COMMAND_UUID, data) == 0
    assert last_result(m, h) == (1, G.OK)
    assert app.inbox.pending() == 1
    assert app.inbox._q[0] == (I.SETTINGS, {"cell_uv_trip_v": 2.7})
    assert m.write(h, G.COMMAND_UUID, data) == 0          # the same bytes again
    assert last_result(m, h) == (1, G.REPLAYED)
    assert m.write(h, G.COMMAND_UUID, cmd(token, 0, G.OP_SWITCH, b"\x00")) == 0
    assert last_result(m, h) == (0, G.REPLAYED)
    assert m.write(h, G.COMMAND_UUID, cmd(b"\x00\x00\x00\x00", 9, G.OP_SWITCH, b"\x00")) == 0
    assert last_result(m, h) == (9, G.BAD_SESSION)
    assert m.write(h, G.COMMAND_UUID, cmd(token, 2, G.OP_SET, b"[1]")) == 0
    assert last_result(m, h) == (2, G.MALFORMED)
    assert app.inbox.pending() == 1
    assert radio.commands_ok == 1 and radio.commands_refused == 4
    app.inbox.drain(lambda c: app.settings.update(c[1]))
    assert app.settings.get("cell_uv_trip_v") == 2.7


def test_radio_notifies_and_bonds_on_micropython_too():
    app, keys, radio, st, m = started()
    h = m.connect(b"\x0a\x0b\x0c\x0d\x0e\x0f")
    other = m.connect(b"\x01\x01\x01\x01\x01\x01")
    assert m.pair(h, 0)
    for _ in range(20):
        radio.update(100, st)
    live = m.notifications(h, G.LIVE_UUID)
    assert len(live) >= 1
    v = struct.unpack(G.LIVE_FMT, live[-1])
    assert v[0] == st.bank.bank_mv == 13200 and v[2] == 800 and v[5] == 200
    assert m.notifications(other) == []
    assert len(keys.bonds) == 1 and not keys.dirty          # kept by the radio within KEYS_SAVE_MS
    m.disconnect(h)
    h2 = m.connect(b"\x0a\x0b\x0c\x0d\x0e\x0f")
    assert m.resume(h2) is True
    assert m.read(h2, G.SESSION_UUID)[0] == 0
    assert m.resume(other) is False


# ---------------------------------------------------------------- allocation
class NoAes:
    """A cipher that allocates nothing (the JS-backed test cryptolib does; the
    board's C one does not)."""

    def encrypt(self, block, out):
        for i in range(16):
            out[i] = block[i] ^ 0x5A


def test_readout_next_and_values_fill_allocate_nothing():
    bank = make_bank([(tuple(3300 + k for k in range(16)), (200, 210), 1, 1),
                      (tuple(3300 + k for k in range(16)), (220,), 2, 0),
                      (tuple(3300 + k for k in range(16)), (230, 240, 250, 260), 3, 0)])
    st = make_status(bank, (C.W_B01, C.A_B09, C.E_B11), -20000, True, 555, -12345, 321, (1, 0, 1, 0, 1), 3, 0x2B)
    ro = R.Readout(KEY, 0xA3E8, 0)
    ro._aes = NoAes()
    v = G.Values()
    for _ in range(8):                                  # warm-up
        ro.next(st, True)
        v.fill(st)
    changes = ro.changes
    measurable = hasattr(gc, "mem_alloc")
    gc.collect()
    gc.disable()
    before = gc.mem_alloc() if measurable else 0
    for k in range(300):
        st.current_ma = -20000 - 100 * k
        st.soc_pct10 = 555 - (k & 255)
        ro.next(st, k % 3 != 0)
        v.fill(st)
        ro.next(st, True)
    used = (gc.mem_alloc() - before) if measurable else 0
    gc.enable()
    assert ro.changes - changes >= 300
    assert struct.unpack(G.LIVE_FMT, v.live)[1] == -20000 - 100 * 299
    assert used == 0, used
