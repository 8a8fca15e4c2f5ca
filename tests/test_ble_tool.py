"""The host's Bluetooth tool (host_tools/ble_tool.py) against the firmware on the
mock radio: the same protocol code a real board answers over bleak."""
import asyncio

import pytest

from bmsutil import Rig
from host_tools import ble_mock
from host_tools import ble_tool as T

LIVE_UUID = "5ab00001-3c1e-4f7a-9d2e-8b6f0c1e7a51"


def _rig():
    r = Rig(ble=True)
    r.now = 0
    for _ in range(50):
        r.at(r.now)
        r.now += 100
    return r


def _pump(r, ticks=3):
    def pump():
        for _ in range(ticks):
            r.at(r.now)
            r.now += 100
    return pump


def _paired(r, pin=0):
    conn = r.ble.connect()
    assert r.ble.pair(conn, pin)
    return T.Session(T.MockLink(r.ble, conn, _pump(r)))


def test_scan_decodes_the_boards_advertisement_with_its_key():
    r = _rig()
    company, payload = ble_mock.parse_manufacturer(r.ble.adv[1])
    assert company == T.COMPANY_ID
    v = T.decode_advert(payload, r.app.ble_keys.key.hex())
    if v["record"] == 0x05:          # the slot may hold a battery page: take the next one
        r.at(r.now)
        r.now += 1000
        for _ in range(10):
            r.at(r.now)
            r.now += 100
        v = T.decode_advert(ble_mock.parse_manufacturer(r.ble.adv[1])[1], r.app.ble_keys.key.hex())
    assert v["record"] == 0x0A
    assert v["voltage"] == pytest.approx(r.st.bank.bank_mv / 1000, abs=0.006)
    assert v["current"] == pytest.approx(r.st.current_ma / 1000, abs=0.06)


def test_scan_with_a_wrong_key_is_detected():
    from victron_ble.exceptions import AdvertisementKeyMismatchError
    r = _rig()
    payload = ble_mock.parse_manufacturer(r.ble.adv[1])[1]
    wrong = bytes([r.app.ble_keys.key[0] ^ 0xFF]) + bytes(15)
    with pytest.raises(AdvertisementKeyMismatchError):
        T.decode_advert(payload, wrong.hex())


def test_get_set_and_switch_through_the_tool():
    r = _rig()
    s = _paired(r)
    assert asyncio.run(s.get("charge_limit_v")) == {"charge_limit_v": 14.2}
    assert asyncio.run(s.set("charge_limit_v", 14.0)) == "queued"
    assert r.s.get("charge_limit_v") == 14.0
    with pytest.raises(T.BleToolError, match="refused"):
        asyncio.run(s.set("charge_limit_v", 99))
    assert r.s.get("charge_limit_v") == 14.0
    assert asyncio.run(s.switch(False)) == "queued"
    assert not r.st.soft_on and not r.st.remote_on
    everything = asyncio.run(s.get())
    assert set(everything) == set(r.s.names())
    assert everything["charge_limit_v"] == 14.0


def test_live_and_codes_read_back_the_status():
    r = _rig()
    s = _paired(r)
    for _ in range(10):
        r.at(r.now)
        r.now += 100
    live = asyncio.run(s.live())
    assert live["voltage_v"] == pytest.approx(r.st.bank.bank_mv / 1000, abs=0.001)
    assert live["atc"] == r.st.atc and live["atd"] == r.st.atd
    assert asyncio.run(s.codes()) == r.st.active_codes()


def test_the_tool_without_pairing_gets_a_clear_error():
    r = _rig()
    conn = r.ble.connect()
    s = T.Session(T.MockLink(r.ble, conn, _pump(r)))
    with pytest.raises(T.BleToolError, match="0x05"):
        asyncio.run(s.get("charge_limit_v"))


def test_parse_value():
    assert T.parse_value("14.1") == 14.1
    assert T.parse_value("all_off") == "all_off"
