"""Portable: the link decoder (protocol version 2) on both interpreters (vectors
from docs/link-protocol.md)."""
import binascii
import gc

import bank
import link as L
import mp_ring
from pt_util import frame, polled_master, record, rng

POLL_SEQ_1 = bytes.fromhex("aa55020101000000" "7d4ed679")
ONE_BATTERY = bytes.fromhex(
    "aa550201010127002701485132323430413030303100640004"
    "01e0332ccfffff0000010401f80cf90cf70cf80cd7004c04ae1f")
V1_ONE_BATTERY = bytes.fromhex(
    "aa550101010127002701485132323430413030303100640004"
    "01e0332ccfffff0000010401f80cf90cf70cf80cd70019b1")


def answer(data, seq=None):
    """(accepted, master) after ``data`` arrives for the outstanding poll."""
    lm = polled_master(seq)
    lm.uart.rx.extend(data)
    return lm.service(100), lm


def test_crc_check_value():
    assert binascii.crc32(b"123456789") == 0xCBF43926
    assert L.crc32(b"123456789", 0, 9) == 0xCBF43926
    assert L.crc32(bytearray(b"xx123456789yy"), 2, 11) == 0xCBF43926


def test_crc32_reads_a_memoryview_slice():
    buf = bytearray(b"xx123456789yy")
    assert binascii.crc32(memoryview(buf)[2:11]) == 0xCBF43926
    assert binascii.crc32(b"123456789" + b"\x26\x39\xf4\xcb") == L.CRC_RESIDUE == 0x2144DF1C


def test_crc32_on_a_view_copies_nothing():
    """A 3 kB frame checked through a view made beforehand: 0 bytes allocated
    (the residue is a small int, and crc32 reads the view in place)."""
    if not hasattr(gc, "mem_alloc"):
        return                                   # CPython: nothing to measure
    recs = [record(i + 1, (3300, 3301, 3302, 3303) * 4, (200, 210, 220, 230)) for i in range(50)]
    f = frame(1, recs)
    view = memoryview(f)[2:len(f)]
    crc32 = binascii.crc32
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    r = crc32(view)
    used = gc.mem_alloc() - before
    gc.enable()
    assert r == L.CRC_RESIDUE and len(f) == L.MAX_FRAME
    assert used == 0, used


def test_poll_is_the_documented_bytes():
    buf = bytearray(L.POLL_LEN)
    assert L.build_poll(buf, 1) == 12
    assert bytes(buf) == POLL_SEQ_1


def test_every_poll_sequence_has_the_right_crc32():
    buf = bytearray(L.POLL_LEN)
    for seq in range(256):
        L.build_poll(buf, seq)
        assert buf[0:8] == bytes([0xAA, 0x55, 2, 1, seq, 0, 0, 0])
        crc = binascii.crc32(bytes(buf[2:8]))
        assert bytes(buf[8:12]) == bytes([(crc >> (8 * k)) & 0xFF for k in range(4)]), seq
        assert binascii.crc32(memoryview(buf)[2:12]) == L.CRC_RESIDUE


def test_the_helper_encoder_reproduces_the_documented_frame():
    rec = record(1, (3320, 3321, 3319, 3320), (215,), serial=b"HQ2240A0001", current_ma=-12500,
                 voltage_mv=13280)
    assert bytes(frame(1, [rec])) == ONE_BATTERY


def test_documented_one_battery_frame():
    ok, lm = answer(ONE_BATTERY)
    assert ok
    b = lm.bank
    assert b.count == 1 and b.serial_str(0) == "HQ2240A0001"
    assert b.voltage_mv[0] == 13280 and b.current_ma[0] == -12500
    assert list(b.cell_mv[0:4]) == [3320, 3321, 3319, 3320] and b.temp_dc[0] == 215
    assert b.serial_hash[0] == 0x970603


def test_version_1_frame_is_rejected_as_version():
    ok, lm = answer(V1_ONE_BATTERY)
    assert not ok and not lm.has_reading
    assert lm.errors[L.ERR_VERSION] == 1 and lm.errors[L.ERR_CRC] == 0


def test_every_single_bit_flip_is_rejected():
    for bit in range(len(ONE_BATTERY) * 8):
        f = bytearray(ONE_BATTERY)
        f[bit // 8] ^= 1 << (bit % 8)
        ok, lm = answer(f)
        assert not ok, bit
        assert not lm.has_reading


def test_random_multi_bit_flips_are_rejected():
    r = rng(7)
    for case in range(200):
        f = bytearray(ONE_BATTERY)
        for _ in range(2 + case % 7):
            bit = r(len(f) * 8)
            f[bit // 8] ^= 1 << (bit % 8)
        if bytes(f) == ONE_BATTERY:
            continue
        ok, lm = answer(f)
        assert not ok, case


def test_random_bursts_are_rejected():
    r = rng(11)
    nbits = len(ONE_BATTERY) * 8
    for case in range(200):
        length = 1 + r(32)
        at = r(nbits - length + 1)
        f = bytearray(ONE_BATTERY)
        for k in range(length):
            if k == 0 or k == length - 1 or r(2):
                p = at + k
                f[p // 8] ^= 1 << (p % 8)
        ok, lm = answer(f)
        assert not ok, case


def test_random_noise_is_never_accepted():
    r = rng(3)
    for case in range(50):
        ok, lm = answer(bytes([r(256) for _ in range(r(600))]))
        assert not ok


def range_case(accept, **kw):
    cells = kw.pop("cells", (3300, 3300, 3300, 3300))
    temps = kw.pop("temps", (200,))
    ok, lm = answer(frame(1, [record(1, cells, temps, **kw)]))
    if accept:
        assert ok, kw
    else:
        assert not ok and not lm.has_reading, kw
        assert lm.errors[L.ERR_RANGE] == 1 and lm.errors[L.ERR_RECORD] == 0, kw


def test_range_cell_voltage():
    range_case(True, cells=(5000, 3300, 3300, 3300))
    range_case(True, cells=(0, 3300, 3300, 3300))
    range_case(False, cells=(5001, 3300, 3300, 3300))


def test_range_temperature():
    range_case(True, temps=(-400,))
    range_case(True, temps=(1000,))
    range_case(False, temps=(-401,))
    range_case(False, temps=(1001,))


def test_range_battery_voltage():
    range_case(True, voltage_mv=20000)
    range_case(False, voltage_mv=20001)


def test_range_current():
    range_case(True, current_ma=2000000)
    range_case(True, current_ma=-2000000)
    range_case(False, current_ma=2000001)
    range_case(False, current_ma=-2000001)
    range_case(False, current_ma=0x7FFFFFFF)
    range_case(False, current_ma=-0x80000000)


def test_range_capacity():
    range_case(True, capacity_ah=1)
    range_case(True, capacity_ah=10000)
    range_case(False, capacity_ah=0)
    range_case(False, capacity_ah=10001)


def test_range_flags():
    range_case(True, flags=bank.FLAG_BALANCING | bank.FLAG_FAULT)
    for k in range(2, 16):
        range_case(False, flags=1 << k)


def test_serial_hash():
    recs = [record(1, (3300, 3300, 3300, 3300), (200,), serial=b"HQ2240A0001"),
            record(2, (3300, 3300, 3300, 3300), (200,), serial=b"\xff" * 12)]
    ok, lm = answer(frame(1, recs))
    assert ok
    h = 0
    for _ in range(12):
        h = (h * 31 + 255) & 0xFFFFFF
    assert lm.bank.serial_hash[0] == 0x970603 and lm.bank.serial_hash[1] == h


def test_stale_and_truncated_answers():
    good = frame(1, [record(1, (3300, 3300, 3300, 3300), (200,))])
    lm = polled_master()
    lm.uart.rx.extend(good[:25])
    assert not lm.service(100)
    lm.service(1000)                 # next poll drops the partial frame
    assert lm.errors[L.ERR_TRUNCATED] == 1
    lm.uart.rx.extend(good)          # answer to poll 1, but poll 2 is outstanding
    assert not lm.service(1100)
    assert lm.errors[L.ERR_STALE] == 1 and not lm.has_reading


def test_fifty_batteries_decode():
    recs = [record(i + 1, (3300 + i, 3301, 3302, 3303), (i * 10,)) for i in range(50)]
    lm = polled_master()
    lm.uart.rx.extend(frame(1, recs))
    assert lm.service(100)
    assert lm.bank.count == 50 and lm.bank.cell_max_mv == 3349 and lm.bank.parallel == 50


def test_polls_and_accepted_frames_allocate_nothing():
    """Sending polls, checking CRC-32s and decoding 256 frames (every sequence, so
    CRCs above 2**30 too) allocates nothing on MicroPython."""
    recs = [record(i + 1, (3300, 3301, 3302, 3303), (200,), current_ma=-2000) for i in range(20)]
    lm = L.LinkMaster(mp_ring.QuietUart(frame(0, recs)))
    now = 0
    for _ in range(3):                           # warm-up: the CRC view is made here
        lm.service(now)
        now += L.POLL_TIMEOUT_MS
    measurable = hasattr(gc, "mem_alloc")
    ok0 = lm.frames_ok
    gc.collect()
    gc.disable()
    before = gc.mem_alloc() if measurable else 0
    for _ in range(256):
        lm.service(now)
        now += L.POLL_TIMEOUT_MS
    used = (gc.mem_alloc() - before) if measurable else 0
    gc.enable()
    assert lm.frames_ok - ok0 == 256 and lm.error_total() == 0
    assert lm.bank.count == 20
    assert used == 0, used
