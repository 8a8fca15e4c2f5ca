"""firmware/link.py (protocol version 2): framing, CRC-32, the doc's hex vectors,
range checks, the serial hash and rejection of bad input."""
import os
import re
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import host_tools
from host_tools import ring

host_tools.use_firmware()
import bank as fw_bank  # noqa: E402
import link as L  # noqa: E402
from pt_util import polled_master as master  # noqa: E402

DOC = os.path.join(host_tools.ROOT, "docs", "link-protocol.md")

# Version 1 (CRC-16) frames: the examples docs/link-protocol.md had before version 2.
V1_POLL_SEQ_1 = bytes.fromhex("aa 55 01 01 01 00 00 00 55 97")
V1_ONE_BATTERY_SEQ_1 = bytes.fromhex(
    "aa 55 01 01 01 01 27 00 27 01 48 51 32 32 34 30 41 30 30 30 31 00 64 00 04 01"
    "e0 33 2c cf ff ff 00 00 01 04 01 f8 0c f9 0c f7 0c f8 0c d7 00 19 b1")


def doc_vectors():
    text = open(DOC).read()
    return {name: bytes.fromhex(body.replace("\n", " ")) for name, body in
            re.findall(r"```hex (\S+)\n(.*?)```", text, re.S)}


def battery(addr, cells=(3300, 3301, 3302, 3303), temps=(200,), serial="HQ2240A%04d", spos=1, ma=-1000):
    return ring.record(addr, serial % addr if "%" in serial else serial, 100, 0x0104, sum(cells),
                       ma, 0, spos, list(cells), list(temps))


def respond(lm, data, now=100):
    lm.uart.rx += data
    return lm.service(now)


def serial_hash(serial):
    h = 0
    for b in serial.encode().ljust(12, b"\x00")[:12]:
        h = (h * 31 + b) & 0xFFFFFF
    return h


def crc32_bitwise(data):
    """CRC-32/IEEE written out bit by bit (reflected 0xEDB88320, init and xorout all ones)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xEDB88320 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


# ----- constants and the CRC -------------------------------------------------------

def test_version_2_constants():
    assert (L.VERSION, ring.VERSION) == (2, 2)
    assert (L.HEADER_LEN, L.CRC_LEN, L.POLL_LEN) == (8, 4, 12)
    assert L.MAX_PAYLOAD == 50 * 69 == 3450
    assert L.MAX_FRAME == 8 + 3450 + 4 == 3462
    assert L.FLAGS_DEFINED == fw_bank.FLAG_BALANCING | fw_bank.FLAG_FAULT
    assert not hasattr(L, "crc16")


def test_error_names_keep_their_indexes_and_range_is_appended():
    assert L.ERROR_NAMES[:9] == ("crc", "version", "length", "stale", "record", "truncated",
                                 "no_response", "skipped_bytes", "type")
    assert L.ERROR_NAMES[L.ERR_RANGE] == "range" and L.ERR_RANGE == len(L.ERROR_NAMES) - 1


def test_crc_check_value():
    assert L.crc32(b"123456789", 0, 9) == 0xCBF43926
    assert ring.crc32(b"123456789") == 0xCBF43926
    assert crc32_bitwise(b"123456789") == 0xCBF43926
    assert L.crc32(b"xx123456789yy", 2, 11) == 0xCBF43926


def test_crc_residue_constant():
    assert L.CRC_RESIDUE == zlib.crc32(b"123456789" + struct.pack("<I", 0xCBF43926)) == 0x2144DF1C
    assert L.CRC_RESIDUE < 2 ** 30        # a small int on a 32-bit MicroPython port


@given(st.binary(max_size=600), st.integers(0, 600), st.integers(0, 600))
def test_crc_matches_zlib_and_the_residue_holds(data, a, b):
    a, b = sorted((a % (len(data) + 1), b % (len(data) + 1)))
    crc = L.crc32(data, a, b)
    assert crc == zlib.crc32(data[a:b]) == crc32_bitwise(data[a:b])
    assert zlib.crc32(data[a:b] + struct.pack("<I", crc)) == L.CRC_RESIDUE


def test_every_poll_sequence_matches_the_independent_encoder():
    buf = bytearray(L.POLL_LEN)
    for seq in range(256):
        assert L.build_poll(buf, seq) == L.POLL_LEN
        assert bytes(buf) == ring.poll(seq), seq
        assert crc32_bitwise(buf[2:8]) == struct.unpack("<I", buf[8:12])[0]


# ----- the documented vectors ------------------------------------------------------

def test_doc_vectors_exist():
    assert set(doc_vectors()) == {"poll-seq-1", "one-battery-seq-1", "two-batteries-seq-7"}


def test_doc_vectors_are_version_2_with_a_crc32():
    v = doc_vectors()
    assert [len(v[k]) for k in ("poll-seq-1", "one-battery-seq-1", "two-batteries-seq-7")] == [12, 51, 92]
    for f in v.values():
        assert f[2] == 2
        assert struct.unpack("<I", f[-4:])[0] == crc32_bitwise(f[2:-4])


def test_poll_matches_doc_vector_in_both_implementations():
    buf = bytearray(L.POLL_LEN)
    L.build_poll(buf, 1)
    assert bytes(buf) == doc_vectors()["poll-seq-1"]
    assert ring.poll(1) == doc_vectors()["poll-seq-1"]
    lm = master()
    assert bytes(lm.uart.sent) == doc_vectors()["poll-seq-1"]   # the first poll is sequence 1


def test_one_battery_vector_decodes_to_the_documented_values():
    v = doc_vectors()["one-battery-seq-1"]
    lm = master()
    assert respond(lm, v) is True
    b = lm.bank
    assert b.count == 1
    assert b.serial_str(0) == "HQ2240A0001"
    assert b.serial_hash[0] == serial_hash("HQ2240A0001") == 0x970603
    assert (b.capacity_ah[0], b.fw_version[0], b.voltage_mv[0], b.current_ma[0]) == (100, 0x0104, 13280, -12500)
    assert list(b.cell_mv[0:4]) == [3320, 3321, 3319, 3320]
    assert b.temp_dc[0] == 215
    assert (b.cell_min_mv, b.cell_max_mv, b.series, b.parallel, b.system_v) == (3319, 3321, 1, 1, 12)
    assert ring.decode_records(ring.parse(v)[4], 1)[0]["serial"] == "HQ2240A0001"


def test_simulator_encoder_reproduces_the_vectors():
    rec1 = ring.record(1, "HQ2240A0001", 100, 0x0104, 13280, -12500, 0, 1, [3320, 3321, 3319, 3320], [215])
    rec2 = ring.record(2, "HQ2240A0002", 100, 0x0104, 13276, -12300, 1, 1, [3318, 3320, 3319, 3319], [-52, 10])
    assert ring.forward(ring.poll(1), lambda a: rec1) == doc_vectors()["one-battery-seq-1"]
    assert ring.forward(ring.forward(ring.poll(7), lambda a: rec1), lambda a: rec2) == doc_vectors()["two-batteries-seq-7"]


def test_the_micropython_helper_encoder_reproduces_the_one_battery_vector():
    import mp_ring
    rec = mp_ring.record(1, (3320, 3321, 3319, 3320), (215,), serial=b"HQ2240A0001", current_ma=-12500,
                         voltage_mv=13280)
    assert bytes(mp_ring.frame(1, [rec])) == doc_vectors()["one-battery-seq-1"]


def test_two_battery_vector():
    lm = master(seq=7)
    assert respond(lm, doc_vectors()["two-batteries-seq-7"])
    b = lm.bank
    assert b.count == 2 and b.parallel == 2 and b.series == 1
    assert b.flags[1] == 1
    assert list(b.temp_dc[4:6]) == [-52, 10]
    assert (b.temp_min_dc, b.temp_max_dc) == (-52, 215)
    assert b.bank_current_ma == -12500 - 12300
    assert list(b.serial_hash[0:2]) == [0x970603, 0x970622]


@pytest.mark.parametrize("name", ["one-battery-seq-1", "two-batteries-seq-7"])
def test_every_single_bit_flip_of_a_doc_vector_is_rejected(name):
    v = doc_vectors()[name]
    seq = v[4]
    for bit in range(len(v) * 8):
        f = bytearray(v)
        f[bit // 8] ^= 1 << (bit % 8)
        lm = master(seq=seq)
        assert respond(lm, bytes(f)) is False, bit
        assert not lm.has_reading


# ----- version 1 --------------------------------------------------------------------

@pytest.mark.parametrize("old", [V1_POLL_SEQ_1, V1_ONE_BATTERY_SEQ_1], ids=["poll", "one-battery"])
def test_version_1_frames_are_rejected_as_version(old):
    lm = master()
    assert respond(lm, old) is False
    assert lm.errors[L.ERR_VERSION] == 1
    assert lm.errors[L.ERR_CRC] == 0 and not lm.has_reading


def test_a_version_1_header_with_a_valid_crc32_is_still_rejected():
    lm = master()
    assert respond(lm, ring.raw_frame(1, 1, battery(1), version=1)) is False
    assert lm.errors[L.ERR_VERSION] == 1 and not lm.has_reading


# ----- frames ------------------------------------------------------------------------

def frame_of(n, seq=1, **kw):
    out = ring.poll(seq)
    for _ in range(n):
        out = ring.forward(out, lambda a: battery(a, **kw))
    return out


def test_fifty_batteries_of_sixteen_cells_fit():
    lm = master()
    f = frame_of(50, cells=tuple(range(3300, 3316)), temps=(10, 20, 30, 40))
    assert len(f) == L.MAX_FRAME
    assert respond(lm, f)
    assert lm.bank.count == 50 and lm.bank.total_cells == 800
    assert [lm.bank.serial_hash[i] for i in range(50)] == [serial_hash("HQ2240A%04d" % (i + 1)) for i in range(50)]


def test_split_stream_knows_the_4_byte_crc():
    a, b = frame_of(1, seq=3), frame_of(2, seq=4)
    frames, used = ring.split_stream(bytearray(b"\x00" + a + b + b[:10]))
    assert frames == [a, b] and used == 1 + len(a) + len(b)
    assert ring.parse(b)[:4] == (2, 1, 4, 2)


@pytest.mark.parametrize("mutate,counter", [
    (lambda f: f[:-1] + bytes([f[-1] ^ 1]), "crc"),
    (lambda f: f[:-4] + bytes(4), "crc"),
    (lambda f: ring.raw_frame(2, ring.parse(f)[3], ring.parse(f)[4], version=1), "version"),
    (lambda f: ring.raw_frame(2, ring.parse(f)[3], ring.parse(f)[4], version=3), "version"),
    (lambda f: ring.raw_frame(2, ring.parse(f)[3], ring.parse(f)[4], ftype=2), "type"),
    (lambda f: f, "stale"),
    (lambda f: ring.raw_frame(2, 2, ring.parse(f)[4]), "record"),            # hop says 2, one record
    (lambda f: ring.raw_frame(2, 51, ring.parse(f)[4]), "length"),           # more than 50
    (lambda f: ring.raw_frame(2, 1, ring.parse(f)[4] + b"\x00"), "record"),  # a stray byte after the record
])
def test_bad_frames_are_rejected_counted_and_change_nothing(mutate, counter):
    lm = master()
    good = frame_of(1)
    assert respond(lm, good)
    before = (lm.bank.count, list(lm.bank.cell_mv[:4]))
    lm.service(1000)               # next poll: sequence 2
    bad = mutate(ring.raw_frame(2, 1, ring.parse(good)[4]))
    if counter == "stale":
        bad = good                 # a second copy of the answer to poll 1
    assert respond(lm, bad, 1100) is False
    assert lm.errors[L.ERROR_NAMES.index(counter)] >= 1
    assert (lm.bank.count, list(lm.bank.cell_mv[:4])) == before


@pytest.mark.parametrize("field_offset,value", [
    (1, 2),     # address 2 in position 1
    (27, 0),    # no cells
    (27, 17),   # more cells than a battery holds
    (28, 0),    # no temperature
    (26, 0),    # series position 0
    (0, 38),    # record length one short
])
def test_malformed_records_are_rejected(field_offset, value):
    rec = bytearray(battery(1))
    rec[field_offset] = value
    lm = master()
    assert respond(lm, ring.raw_frame(1, 1, bytes(rec))) is False
    assert lm.errors[L.ERR_RECORD] == 1
    assert not lm.has_reading


# ----- ranges: one test per rule, the boundary accepted and one past it rejected -----

def rec_with(**kw):
    """battery 1 with 4 cells, one sensor; ``kw`` overrides record fields."""
    f = dict(addr=1, serial="HQ2240A0001", capacity_ah=100, fw_version=0x0104, voltage_mv=13200,
             current_ma=-1000, flags=0, series_pos=1, cells_mv=[3300, 3300, 3300, 3300], temps_dc=[200])
    f.update(kw)
    return ring.record(**f)


def outcome(records):
    """(accepted, the error counters) for a frame of ``records`` answering poll 1."""
    lm = master()
    ok = respond(lm, ring.raw_frame(1, len(records), b"".join(records)))
    return ok, dict(zip(L.ERROR_NAMES, lm.errors)), lm


def assert_range_rule(good, bad):
    for kw in good:
        ok, errs, _ = outcome([rec_with(**kw)])
        assert ok, (kw, errs)
    for kw in bad:
        ok, errs, lm = outcome([rec_with(**kw)])
        assert not ok and not lm.has_reading, kw
        assert errs["range"] == 1 and sum(errs.values()) == 1, (kw, errs)


def test_range_cell_voltage_0_to_5000_mv():
    assert_range_rule(
        good=[dict(cells_mv=[5000, 3300, 3300, 3300], voltage_mv=14900),
              dict(cells_mv=[3300, 3300, 3300, 0], voltage_mv=9900)],
        bad=[dict(cells_mv=[5001, 3300, 3300, 3300], voltage_mv=14901),
             dict(cells_mv=[3300, 3300, 3300, 65535], voltage_mv=13200)])


def test_range_temperature_minus_40_to_plus_100_degc():
    assert_range_rule(
        good=[dict(temps_dc=[-400]), dict(temps_dc=[1000]), dict(temps_dc=[20, -400, 1000, 0])],
        bad=[dict(temps_dc=[-401]), dict(temps_dc=[1001]), dict(temps_dc=[20, 20, 20, 1001]),
             dict(temps_dc=[-32768]), dict(temps_dc=[32767])])


def test_range_battery_voltage_0_to_cells_times_5000_mv():
    assert_range_rule(
        good=[dict(voltage_mv=20000), dict(voltage_mv=0),
              dict(cells_mv=[3300] * 16, voltage_mv=65535)],     # 16 x 5 V is above the field's top
        bad=[dict(voltage_mv=20001), dict(cells_mv=[3300], voltage_mv=5001)])


def test_range_battery_current_within_2000_a():
    assert_range_rule(
        good=[dict(current_ma=2000000), dict(current_ma=-2000000), dict(current_ma=0)],
        bad=[dict(current_ma=2000001), dict(current_ma=-2000001),
             dict(current_ma=2 ** 31 - 1), dict(current_ma=-2 ** 31), dict(current_ma=2 ** 24)])


def test_range_capacity_1_to_10000_ah():
    assert_range_rule(
        good=[dict(capacity_ah=1), dict(capacity_ah=10000)],
        bad=[dict(capacity_ah=0), dict(capacity_ah=10001), dict(capacity_ah=65535)])


def test_range_flags_only_the_defined_bits():
    assert_range_rule(
        good=[dict(flags=0), dict(flags=1), dict(flags=2), dict(flags=3)],
        bad=[dict(flags=1 << k) for k in range(2, 16)] + [dict(flags=0xFFFF), dict(flags=7)])


def test_a_record_with_an_undefined_flag_bit_is_rejected():
    ok, errs, lm = outcome([rec_with(flags=0x0004)])
    assert not ok and errs["range"] == 1 and errs["record"] == 0 and not lm.has_reading


def test_one_bad_value_in_the_last_record_rejects_the_whole_frame():
    recs = [rec_with(addr=1), rec_with(addr=2, serial="HQ2240A0002"),
            rec_with(addr=3, serial="HQ2240A0003", temps_dc=[200, 1001])]
    ok, errs, lm = outcome(recs)
    assert not ok and errs["range"] == 1 and not lm.has_reading and lm.bank.count == 0


def test_the_structure_is_judged_before_the_ranges():
    rec = bytearray(rec_with(capacity_ah=0))
    rec[1] = 2                                     # wrong address as well
    ok, errs, _ = outcome([bytes(rec)])
    assert not ok and errs["record"] == 1 and errs["range"] == 0


# ----- serial hash ---------------------------------------------------------------------

@pytest.mark.parametrize("serial", ["HQ2240A0001", "", "A", "ZZZZZZZZZZZZ", "SN1"])
def test_serial_hash_is_computed_per_record(serial):
    ok, _, lm = outcome([rec_with(serial=serial), rec_with(addr=2, serial="HQ2240A0002")])
    assert ok
    assert lm.bank.serial_hash[0] == serial_hash(serial)
    assert lm.bank.serial_hash[1] == serial_hash("HQ2240A0002")


@given(st.binary(min_size=12, max_size=12))
def test_serial_hash_of_any_12_bytes_stays_24_bits(raw):
    rec = bytearray(rec_with())
    rec[2:14] = raw
    lm = master()
    assert respond(lm, ring.raw_frame(1, 1, bytes(rec)))
    h = 0
    for b in raw:
        h = (h * 31 + b) & 0xFFFFFF
    assert lm.bank.serial_hash[0] == h < 2 ** 24


def test_a_different_battery_has_a_different_hash():
    _, _, a = outcome([rec_with(serial="HQ2240A0001")])
    _, _, b = outcome([rec_with(serial="HQ2240A0002")])
    assert a.bank.serial_hash[0] != b.bank.serial_hash[0]


# ----- the poll cycle ------------------------------------------------------------------

def test_no_answer_and_truncated_frames_are_counted():
    lm = master()
    lm.uart.rx += frame_of(1)[:20]
    assert lm.service(100) is False
    lm.service(1000)                       # next poll: the partial frame is dropped
    assert lm.errors[L.ERR_TRUNCATED] == 1
    assert lm.errors[L.ERR_NO_RESPONSE] == 1
    assert lm.rx_len == 0


def test_a_ring_with_no_battery_returns_an_empty_reading():
    lm = master()
    assert respond(lm, ring.poll(1))
    assert lm.has_reading and lm.bank.count == 0


def test_truncated_frame_followed_by_a_good_one_resyncs():
    lm = master()
    good = frame_of(2)
    assert respond(lm, good[:30] + good) is True
    assert lm.bank.count == 2
    assert lm.errors[L.ERR_CRC] >= 1 or lm.errors[L.ERR_SKIPPED_BYTES] >= 1


def test_the_frame_is_poll_gated_not_double_used():
    lm = master()
    assert respond(lm, frame_of(1))
    assert respond(lm, frame_of(1), 200) is False    # same answer again, no poll outstanding
    assert lm.errors[L.ERR_STALE] == 1


def test_readings_keep_coming_when_the_frame_moves_or_changes_length():
    """The CRC check keeps its view of the receive buffer while frames keep their
    place and length; a frame elsewhere or of another length must still check."""
    lm = master()
    now = 0
    for k, n in enumerate([1, 1, 3, 3, 0, 2, 2, 1]):
        seq = lm.seq
        prefix = b"\x00" * (k % 3)
        assert respond(lm, prefix + frame_of(n, seq=seq), now + 100), (k, n)
        assert lm.bank.count == n
        now += 1000
        lm.service(now)
    assert lm.errors[L.ERR_CRC] == 0


# ----- properties ------------------------------------------------------------------------

def bank_snapshot(b):
    return [(b.serial_str(i), b.serial_hash[i], b.voltage_mv[i], b.current_ma[i],
             list(b.cell_mv[i * 16:i * 16 + b.n_cells[i]]), list(b.temp_dc[i * 4:i * 4 + b.n_temps[i]]))
            for i in range(b.count)]


cells_st = st.lists(st.integers(0, L.CELL_MV_MAX), min_size=1, max_size=16)
temps_st = st.lists(st.integers(L.TEMP_DC_MIN, L.TEMP_DC_MAX), min_size=1, max_size=4)
bank_st = st.lists(st.tuples(cells_st, temps_st), min_size=1, max_size=6)


def build(bank_spec, seq=1):
    f = ring.poll(seq)
    for cells, temps in bank_spec:
        f = ring.forward(f, lambda a, c=cells, t=temps: ring.record(a, "SN%d" % a, 100, 1, sum(c), 5, 0, 1, c, t))
    return f


@given(bank_st)
def test_any_valid_bank_round_trips_exactly(spec):
    lm = master()
    assert respond(lm, build(spec))
    got = bank_snapshot(lm.bank)
    assert [(g[4], g[5]) for g in got] == [(list(c), list(t)) for c, t in spec]
    assert [g[1] for g in got] == [serial_hash("SN%d" % (i + 1)) for i in range(len(spec))]


@given(st.binary(min_size=0, max_size=4000))
@hsettings(max_examples=300)
def test_random_bytes_are_never_accepted(noise):
    lm = master()
    assert respond(lm, noise) is False
    assert not lm.has_reading


@given(st.binary(min_size=0, max_size=600), st.integers(0, 50))
@hsettings(max_examples=300)
def test_random_payload_with_a_valid_crc_is_accepted_only_in_range(payload, hop):
    """A payload that got past the CRC (the one case the CRC cannot help) is used
    only if every record is well formed and every value is in range."""
    lm = master()
    if respond(lm, ring.raw_frame(1, hop, payload)):
        b = lm.bank
        for i in range(b.count):
            nc = b.n_cells[i]
            assert 1 <= b.capacity_ah[i] <= 10000
            assert b.voltage_mv[i] <= nc * 5000
            assert -2000000 <= b.current_ma[i] <= 2000000
            assert b.flags[i] & ~3 == 0
            assert all(v <= 5000 for v in b.cell_mv[i * 16:i * 16 + nc])
            assert all(-400 <= t <= 1000 for t in b.temp_dc[i * 4:i * 4 + b.n_temps[i]])


@given(bank_st, st.lists(st.integers(0, 10 ** 6), min_size=1, max_size=3, unique=True))
@hsettings(suppress_health_check=[HealthCheck.too_slow])
def test_frames_with_one_to_three_flipped_bits_are_never_accepted(spec, positions):
    f = bytearray(build(spec))
    bits = sorted({p % (len(f) * 8) for p in positions})
    for p in bits:
        f[p // 8] ^= 1 << (p % 8)
    lm = master()
    assert respond(lm, bytes(f)) is False
    assert not lm.has_reading


@given(bank_st, st.lists(st.integers(0, 10 ** 6), min_size=4, max_size=40))
@hsettings(suppress_health_check=[HealthCheck.too_slow])
def test_frames_with_many_flipped_bits_are_never_accepted(spec, positions):
    f = bytearray(build(spec))
    clean = bytes(f)
    for p in positions:
        p %= len(f) * 8
        f[p // 8] ^= 1 << (p % 8)
    lm = master()
    accepted = respond(lm, bytes(f))
    assert not accepted or bytes(f) == clean      # flips that cancel out leave the frame intact


@given(bank_st, st.integers(0, 10 ** 6), st.integers(1, 32), st.integers(1, 2 ** 32 - 1))
@hsettings(suppress_health_check=[HealthCheck.too_slow])
def test_bursts_of_up_to_32_bits_are_never_accepted(spec, at, length, pattern):
    f = bytearray(build(spec))
    at %= len(f) * 8
    pattern = (pattern & ((1 << length) - 1)) | 1 | (1 << (length - 1))   # a burst of exactly `length` bits
    for k in range(length):
        if pattern >> k & 1 and at + k < len(f) * 8:
            f[(at + k) // 8] ^= 1 << ((at + k) % 8)
    lm = master()
    assert respond(lm, bytes(f)) is False
    assert not lm.has_reading


@given(bank_st, st.integers(0, 10 ** 6))
def test_truncated_frames_are_never_accepted(spec, cut):
    f = build(spec)
    cut = cut % len(f)
    lm = master()
    assert respond(lm, f[:cut]) is False
    lm.service(1000)
    assert not lm.has_reading


@given(bank_st, st.binary(max_size=200), st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), max_size=20))
@hsettings(suppress_health_check=[HealthCheck.too_slow])
def test_corrupted_stream_never_yields_a_wrong_value(spec, prefix, pokes):
    """Garbage before the frame and arbitrary byte overwrites: whatever is
    accepted must be exactly what the batteries sent."""
    f = bytearray(build(spec))
    for pos, val in pokes:
        f[pos % len(f)] = val
    lm = master()
    respond(lm, prefix + bytes(f))
    if lm.has_reading:
        clean = master()
        respond(clean, build(spec))
        assert bank_snapshot(lm.bank) == bank_snapshot(clean.bank)
