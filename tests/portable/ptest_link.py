"""Portable: the link decoder on both interpreters (vectors from docs/link-protocol.md)."""
import link as L
from pt_util import frame, polled_master, record, rng

ONE_BATTERY = bytes.fromhex(
    "aa550101010127002701485132323430413030303100640004"
    "01e0332ccfffff0000010401f80cf90cf70cf80cd70019b1".replace(" ", ""))


def test_crc_check_value():
    assert L.crc16(b"123456789", 0, 9) == 0x29B1


def test_poll_is_the_documented_bytes():
    buf = bytearray(L.POLL_LEN)
    L.build_poll(buf, 1)
    assert bytes(buf) == bytes.fromhex("aa550101010000005597")


def test_documented_one_battery_frame():
    lm = polled_master()
    lm.uart.rx.extend(ONE_BATTERY)
    assert lm.service(100)
    b = lm.bank
    assert b.count == 1 and b.serial_str(0) == "HQ2240A0001"
    assert b.voltage_mv[0] == 13280 and b.current_ma[0] == -12500
    assert list(b.cell_mv[0:4]) == [3320, 3321, 3319, 3320] and b.temp_dc[0] == 215


def test_every_single_bit_flip_is_rejected():
    for bit in range(len(ONE_BATTERY) * 8):
        f = bytearray(ONE_BATTERY)
        f[bit // 8] ^= 1 << (bit % 8)
        lm = polled_master()
        lm.uart.rx.extend(f)
        assert not lm.service(100), bit
        assert not lm.has_reading


def test_random_double_and_triple_flips_are_rejected():
    r = rng(7)
    for case in range(200):
        f = bytearray(ONE_BATTERY)
        for _ in range(2 + case % 2):
            bit = r(len(f) * 8)
            f[bit // 8] ^= 1 << (bit % 8)
        if bytes(f) == ONE_BATTERY:
            continue
        lm = polled_master()
        lm.uart.rx.extend(f)
        assert not lm.service(100)


def test_random_noise_is_never_accepted():
    r = rng(3)
    for case in range(50):
        lm = polled_master()
        lm.uart.rx.extend(bytes([r(256) for _ in range(r(600))]))
        assert not lm.service(100)


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
