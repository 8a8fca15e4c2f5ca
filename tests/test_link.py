"""firmware/link.py: framing, CRC, the doc's hex vectors, and rejection of bad input."""
import binascii
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import host_tools
from host_tools import ring

host_tools.use_firmware()
import bank as fw_bank  # noqa: E402,F401
import link as L  # noqa: E402
from pt_util import polled_master as master  # noqa: E402

DOC = os.path.join(host_tools.ROOT, "docs", "link-protocol.md")


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


def test_crc_check_value():
    assert L.crc16(b"123456789", 0, 9) == 0x29B1


@given(st.binary(max_size=600))
def test_crc_matches_binascii(data):
    assert L.crc16(data, 0, len(data)) == binascii.crc_hqx(data, 0xFFFF)


def test_doc_vectors_exist():
    assert set(doc_vectors()) == {"poll-seq-1", "one-battery-seq-1", "two-batteries-seq-7"}


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
    assert (b.capacity_ah[0], b.fw_version[0], b.voltage_mv[0], b.current_ma[0]) == (100, 0x0104, 13280, -12500)
    assert list(b.cell_mv[0:4]) == [3320, 3321, 3319, 3320]
    assert b.temp_dc[0] == 215
    assert (b.cell_min_mv, b.cell_max_mv, b.series, b.parallel, b.system_v) == (3319, 3321, 1, 1, 12)


def test_simulator_encoder_reproduces_the_vectors():
    rec1 = ring.record(1, "HQ2240A0001", 100, 0x0104, 13280, -12500, 0, 1, [3320, 3321, 3319, 3320], [215])
    rec2 = ring.record(2, "HQ2240A0002", 100, 0x0104, 13276, -12300, 1, 1, [3318, 3320, 3319, 3319], [-52, 10])
    assert ring.forward(ring.poll(1), lambda a: rec1) == doc_vectors()["one-battery-seq-1"]
    assert ring.forward(ring.forward(ring.poll(7), lambda a: rec1), lambda a: rec2) == doc_vectors()["two-batteries-seq-7"]


def test_two_battery_vector():
    lm = master(seq=7)
    assert respond(lm, doc_vectors()["two-batteries-seq-7"])
    b = lm.bank
    assert b.count == 2 and b.parallel == 2 and b.series == 1
    assert b.flags[1] == 1
    assert list(b.temp_dc[4:6]) == [-52, 10]
    assert (b.temp_min_dc, b.temp_max_dc) == (-52, 215)
    assert b.bank_current_ma == -12500 - 12300


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


@pytest.mark.parametrize("mutate,counter", [
    (lambda f: f[:-1] + bytes([f[-1] ^ 1]), "crc"),
    (lambda f: ring.raw_frame(2, ring.parse(f)[3], ring.parse(f)[4], version=2), "version"),
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


def bank_snapshot(b):
    return [(b.serial_str(i), b.voltage_mv[i], b.current_ma[i],
             list(b.cell_mv[i * 16:i * 16 + b.n_cells[i]]), list(b.temp_dc[i * 4:i * 4 + b.n_temps[i]]))
            for i in range(b.count)]


cells_st = st.lists(st.integers(0, 65535), min_size=1, max_size=16)
temps_st = st.lists(st.integers(-32768, 32767), min_size=1, max_size=4)
bank_st = st.lists(st.tuples(cells_st, temps_st), min_size=1, max_size=6)


def build(bank_spec, seq=1):
    f = ring.poll(seq)
    for cells, temps in bank_spec:
        f = ring.forward(f, lambda a, c=cells, t=temps: ring.record(a, "SN%d" % a, 100, 1, 13000, 5, 0, 1, c, t))
    return f


@given(bank_st)
def test_any_valid_bank_round_trips_exactly(spec):
    lm = master()
    assert respond(lm, build(spec))
    got = bank_snapshot(lm.bank)
    assert [(g[3], g[4]) for g in got] == [(list(c), list(t)) for c, t in spec]


@given(st.binary(min_size=0, max_size=4000))
@hsettings(max_examples=300)
def test_random_bytes_are_never_accepted(noise):
    lm = master()
    assert respond(lm, noise) is False
    assert not lm.has_reading


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
