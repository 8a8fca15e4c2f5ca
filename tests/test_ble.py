"""Bluetooth (firmware/ble.py, gatt.py, ble_keys.py) on the whole BMS: a ``Rig``
with the host's mock radio (host_tools/ble_mock.py) playing the phones.

Advertising with phones connected, PIN pairing and its refusals, the command
envelope (token, seq, op, body) and every refusal leaving the BMS unchanged,
bonds and their persistence, the PIN, factory reset, notifications, the
``bluetooth`` setting and the LED state; ``ble_keys`` on its own.
"""
import json
import struct

import pytest

import host_tools
from bmsutil import Rig
from host_tools import ble_mock

host_tools.use_firmware()
import ble as BLE  # noqa: E402
import ble_keys as K  # noqa: E402
import codes as C  # noqa: E402
import gatt as G  # noqa: E402
import inbox as I  # noqa: E402
import indicators as IN  # noqa: E402
import readout as R  # noqa: E402
import store  # noqa: E402
from store import MemFs  # noqa: E402

from victron_ble.devices import detect_device_type  # noqa: E402

ADDR = [bytes([0x10 + i] * 6) for i in range(8)]
ATT_AUTH = ble_mock.ATT_INSUFFICIENT_AUTHENTICATION


# ---------------------------------------------------------------- helpers
def rig(**kw):
    r = Rig(ble=True, **kw)
    r.run(2000)
    return r


def phone(r, addr=ADDR[0], pin=0, bond=True):
    """A phone that connects and pairs with ``pin``; returns (conn, token)."""
    h = r.ble.connect(addr)
    assert r.ble.pair(h, pin, bond) is True
    rc, token = r.ble.read(h, G.SESSION_UUID)
    assert rc == 0 and len(token) == 4
    return h, token


def envelope(token, seq, op, body=b""):
    return bytes(token) + struct.pack("<H", seq) + bytes([op]) + bytes(body)


def results(r, h):
    return [(v[0] | (v[1] << 8), v[2], bytes(v[3:]).decode()) for v in r.ble.notifications(h, G.RESULT_UUID)]


def command(r, h, token, seq, op, body=b""):
    """Write one command; return (status, text) of the result notified for it."""
    n = len(results(r, h))
    assert r.ble.write(h, G.COMMAND_UUID, envelope(token, seq, op, body)) == 0
    res = results(r, h)
    assert len(res) == n + 1
    assert res[-1][0] == seq & 0xFFFF
    return res[-1][1], res[-1][2]


def snapshot(r):
    """What a refused command must not change."""
    return ({n: r.s.get(n) for n in r.s.names()}, r.s.version, r.app.remote.soft_on, r.st.soft_on,
            r.app.ble_keys.pin, list(r.app.ble_keys.bonds), r.app.inbox.applied, r.app.inbox.last_error)


def manufacturer(r):
    md = r.ble.manufacturer_data()
    assert md is not None and md[0] == 0x02E1
    return md[1]


# ---------------------------------------------------------------- advertising
def test_the_advertisement_is_the_readout_and_decodes_with_the_key():
    r = rig()
    assert r.ble.adv is not None
    interval, adv, resp, connectable = r.ble.adv
    assert len(adv) == 31 and connectable and interval == BLE.ADV_INTERVAL_US
    assert resp == b"\x08\x09OpenBMS"
    p = manufacturer(r)
    assert p == bytes(r.radio.readout.adv[7:])
    d = detect_device_type(p)(r.app.ble_keys.key.hex()).parse(p)
    if p[4] == R.RECORD_BMS:
        assert abs(d.get_voltage() * 1000 - r.st.bank.bank_mv) <= 5
    else:
        assert d.get_cell_voltages()[0] == 3.3


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_advertising_continues_while_phones_are_connected(n):
    r = rig()
    for k in range(n):
        r.ble.connect(ADDR[k])
        assert r.ble.adv is not None, "advertising stopped at connection %d" % (k + 1)
        assert r.ble.adv[3] == (k + 1 < BLE.MAX_CONNECTIONS)
    nonce0 = r.radio.readout.nonce
    r.batteries[0].current_ma = -15000          # the readout keeps changing while connected
    r.run_for(3000)
    assert r.radio.connections() == n
    assert r.ble.adv is not None and r.ble.adv[3] == (n < 4)
    assert r.radio.readout.nonce != nonce0
    p = manufacturer(r)
    assert p[5] | (p[6] << 8) == r.radio.readout.nonce
    assert r.st.ble_state == IN.BLE_CONNECTED


def test_a_fifth_phone_cannot_connect_and_a_freed_slot_is_offered_again():
    r = rig()
    hs = [r.ble.connect(ADDR[k]) for k in range(4)]
    with pytest.raises(ble_mock.BleError):
        r.ble.connect(ADDR[4])
    assert r.radio.connections() == 4 and not r.ble.adv[3]
    r.run_for(2000)
    assert r.ble.adv is not None and not r.ble.adv[3]
    r.ble.disconnect(hs[1])
    assert r.ble.adv is not None and r.ble.adv[3]
    h5 = r.ble.connect(ADDR[4])
    assert r.ble.pair(h5, 0)
    assert r.radio.connections() == 4


def test_ble_state_off_advertising_connected():
    r = Rig(ble=True)
    assert r.st.ble_state == IN.BLE_OFF and r.ble.adv is None
    r.at(0)
    assert r.st.ble_state == IN.BLE_ADVERTISING
    h = r.ble.connect(ADDR[0])
    r.run_for(100)
    assert r.st.ble_state == IN.BLE_CONNECTED
    assert r.st.leds & (1 << IN.LED_BLUETOOTH)
    r.ble.disconnect(h)
    r.run_for(100)
    assert r.st.ble_state == IN.BLE_ADVERTISING
    r.app.inbox.post((I.SETTINGS, {"bluetooth": "off"}))
    r.run_for(100)
    assert r.st.ble_state == IN.BLE_OFF
    r.run_for(2000)
    assert not r.st.leds & (1 << IN.LED_BLUETOOTH)


def test_bluetooth_off_without_phones_stops_advertising_and_on_restarts_it():
    r = rig()
    r.app.inbox.post((I.SETTINGS, {"bluetooth": "off"}))
    r.run_for(100)
    assert r.ble.adv is None and not r.radio.on
    r.run_for(3000)
    assert r.ble.adv is None and r.st.ble_state == IN.BLE_OFF
    with pytest.raises(ble_mock.BleError):
        r.ble.connect(ADDR[0])
    r.app.inbox.post((I.SETTINGS, {"bluetooth": "on"}))
    r.run_for(100)
    assert r.ble.adv is not None and r.ble.adv[3]
    assert r.st.ble_state == IN.BLE_ADVERTISING
    h, token = phone(r)
    assert command(r, h, token, 1, G.OP_SWITCH, b"\x00")[0] == G.OK


def test_bluetooth_off_disconnects_phones_and_stops_advertising():
    r = rig()
    hs = [phone(r, ADDR[k])[0] for k in range(2)]
    r.app.inbox.post((I.SETTINGS, {"bluetooth": "off"}))
    r.run_for(100)
    assert r.ble.centrals == {}
    assert sorted(r.ble.disconnected_by_device) == sorted(hs)
    assert r.radio.connections() == 0
    assert r.st.ble_state == IN.BLE_OFF
    r.run_for(2000)
    # Nothing on the air while Bluetooth is off, and no phone can connect.
    assert r.ble.adv is None, "still advertising with bluetooth=off: %r" % (r.ble.adv,)
    with pytest.raises(ble_mock.BleError):
        r.ble.connect(ADDR[5])


def test_instant_readout_off_advertises_the_service_without_manufacturer_data():
    r = rig()
    r.app.inbox.post((I.SETTINGS, {"instant_readout": "off"}))
    r.run_for(2000)
    assert r.ble.adv is not None
    assert r.ble.manufacturer_data() is None
    uuid = bytes(reversed(bytes.fromhex(G.SERVICE_UUID.replace("-", ""))))
    assert uuid in r.ble.adv[1]


def steady_rig():
    """Record 0x0A only (``readout_cells`` off) and a battery at rest: the
    readout's payload stays the same from one slot to the next."""
    r = rig(readout_cells="off")
    r.run_for(3000)
    nonce = r.radio.readout.nonce
    r.run_for(3000)
    assert r.radio.readout.nonce == nonce            # really steady
    return r


def test_instant_readout_off_takes_effect_with_a_steady_readout():
    r = steady_rig()
    assert r.ble.manufacturer_data() is not None
    r.app.inbox.post((I.SETTINGS, {"instant_readout": "off"}))
    r.run_for(3000)
    assert r.ble.adv is not None
    assert r.ble.manufacturer_data() is None, "instant_readout=off but the live data is still broadcast"
    r.app.inbox.post((I.SETTINGS, {"instant_readout": "on"}))
    r.run_for(3000)
    assert r.ble.manufacturer_data() is not None


def test_the_model_id_setting_reaches_the_air_with_a_steady_readout():
    r = steady_rig()
    r.app.inbox.post((I.SETTINGS, {"ble_model_id": 0xA3E8}))
    r.run_for(3000)
    p = manufacturer(r)
    assert p[2] | (p[3] << 8) == 0xA3E8, "model id on the air: 0x%04x" % (p[2] | (p[3] << 8))


def test_a_new_key_is_used_at_once():
    r = steady_rig()
    old = r.app.ble_keys.key
    r.app.ble_keys.new_key()
    new = r.app.ble_keys.key
    assert new != old
    r.run_for(1000)
    p = manufacturer(r)
    assert p[7] == new[0]
    d = detect_device_type(p)(new.hex()).parse(p)
    assert abs(d.get_voltage() * 1000 - r.st.bank.bank_mv) <= 5


def test_an_encryption_with_a_short_key_is_not_authenticated():
    r = rig()
    h = r.ble.connect(ADDR[0])
    before = snapshot(r)
    r.ble._irq(28, (h, 1, 1, 0, 7))                     # encrypted, MITM, but a 7-byte key
    # Not authenticated: the board drops the link and keeps nothing of the pairing.
    assert r.radio._slot(h) is None and h not in r.ble.centrals
    assert h in r.ble.disconnected_by_device
    assert r.app.ble_keys.pending == [] and r.app.ble_keys.bonds == []
    r.run_for(2000)
    assert snapshot(r) == before


# ---------------------------------------------------------------- pairing refusals
def test_unauthenticated_write_refused_by_the_stack():
    r = rig()
    before = snapshot(r)
    h = r.ble.connect(ADDR[0])
    for op, body in ((G.OP_SWITCH, b"\x00"), (G.OP_SET, b'{"cell_uv_trip_v": 2.7}')):
        assert r.ble.write(h, G.COMMAND_UUID, envelope(b"\x00" * 4, 1, op, body)) == ATT_AUTH
    assert r.app.inbox.pending() == 0
    r.run_for(2000)
    assert snapshot(r) == before and r.st.soft_on and r.st.atd


def test_unauthenticated_write_refused_by_the_firmware_without_the_stack():
    r = rig()
    r.ble.enforce = False
    before = snapshot(r)
    h = r.ble.connect(ADDR[0])
    assert r.ble.read(h, G.SESSION_UUID)[0] == ATT_AUTH     # the firmware's own read check
    for seq, (op, body) in enumerate(((G.OP_SWITCH, b"\x00"), (G.OP_SET, b'{"cell_uv_trip_v": 2.7}'),
                                      (G.OP_SET_PIN, b"123456"), (G.OP_RESET_ALARMS, b""))):
        assert command(r, h, b"\x00" * 4, seq + 1, op, body)[0] == G.NOT_AUTHENTICATED
        assert r.app.inbox.pending() == 0
    assert r.radio.commands_ok == 0 and r.radio.commands_refused == 4
    r.run_for(2000)
    assert snapshot(r) == before and r.st.soft_on


@pytest.mark.parametrize("enforce", [True, False])
def test_just_works_encryption_without_the_pin_is_refused(enforce):
    r = rig()
    r.ble.enforce = enforce
    before = snapshot(r)
    h = r.ble.connect(ADDR[0])
    r.ble.encrypt_unauthenticated(h)
    # Encrypted without the PIN: the board drops the link at once, keeps no bond.
    assert h not in r.ble.centrals and h in r.ble.disconnected_by_device
    assert r.radio.connections() == 0 and r.app.ble_keys.bonds == []
    # Had the stack not dropped it (a slot still marked only encrypted), the
    # firmware's own checks refuse it.
    c = r.radio.slots[0]
    c.open(h, b"\x01\x02\x03\x04")
    c.encrypted = True
    r.ble.centrals[h] = ble_mock._Central(h, ADDR[0])
    r.ble.centrals[h].encrypted = True
    assert r.ble.read(h, G.SESSION_UUID)[0] == ATT_AUTH
    assert r.ble.read(h, G.LIVE_UUID)[0] == ATT_AUTH
    rc = r.ble.write(h, G.COMMAND_UUID, envelope(b"\x01\x02\x03\x04", 1, G.OP_SWITCH, b"\x00"))
    if enforce:
        assert rc == ATT_AUTH
    else:
        assert rc == 0 and results(r, h)[-1][1] == G.NOT_AUTHENTICATED
    r.run_for(2000)
    assert snapshot(r) == before
    assert r.ble.notifications(h, G.LIVE_UUID) == []


@pytest.mark.parametrize("enforce", [True, False])
def test_wrong_pin_pairing_fails_and_commands_are_refused(enforce):
    r = rig()
    r.ble.enforce = enforce
    before = snapshot(r)
    h = r.ble.connect(ADDR[0])
    assert r.ble.pair(h, 123456) is False
    assert r.ble.passkeys[h] == (3, 0)          # the device answered its own PIN, 000000
    assert not r.radio.slots[0].authenticated
    assert r.app.ble_keys.bonds == []
    assert r.ble.read(h, G.SESSION_UUID)[0] == ATT_AUTH
    rc = r.ble.write(h, G.COMMAND_UUID, envelope(b"\x00" * 4, 1, G.OP_SWITCH, b"\x00"))
    if enforce:
        assert rc == ATT_AUTH
    else:
        assert rc == 0 and results(r, h)[-1][1] == G.NOT_AUTHENTICATED
    r.run_for(2000)
    assert snapshot(r) == before and r.st.soft_on


def test_the_default_pin_000000_pairs_and_commands_work():
    r = rig()
    assert r.app.ble_keys.pin == 0
    h, token = phone(r, pin=0)
    assert r.radio.slots[0].authenticated
    assert command(r, h, token, 1, G.OP_SWITCH, b"\x00") == (G.OK, "queued")
    assert r.st.soft_on                               # not before the next tick
    r.run_for(100)
    assert not r.st.soft_on and not r.app.remote.soft_on
    assert r.ble.read(h, G.RESULT_UUID) == (0, struct.pack("<HB", 1, G.OK) + b"queued")


# ---------------------------------------------------------------- envelopes
MALFORMED_CASES = [
    ("3 bytes", None, None, G.MALFORMED),
    ("no op", "no op", None, G.MALFORMED),
    ("bad json", G.OP_SET, b'{"cell_uv_trip_v": 2.7', G.MALFORMED),
    ("not utf-8", G.OP_SET, b"\xff\xfe{}", G.MALFORMED),
    ("json list", G.OP_SET, b"[1, 2]", G.MALFORMED),
    ("json number", G.OP_SET, b"2.7", G.MALFORMED),
    ("json string", G.OP_SET, b'"cell_uv_trip_v"', G.MALFORMED),
    ("empty object", G.OP_SET, b"{}", G.MALFORMED),
    ("switch 2 bytes", G.OP_SWITCH, b"\x00\x00", G.MALFORMED),
    ("switch 0 bytes", G.OP_SWITCH, b"", G.MALFORMED),
    ("switch value 2", G.OP_SWITCH, b"\x02", G.MALFORMED),
    ("pin 5 digits", G.OP_SET_PIN, b"12345", G.MALFORMED),
    ("pin letters", G.OP_SET_PIN, b"12a456", G.MALFORMED),
    ("clear history body", G.OP_CLEAR_HISTORY, b"\x00", G.MALFORMED),
    ("reset alarms body", G.OP_RESET_ALARMS, b"x", G.MALFORMED),
    ("list 2 bytes", G.OP_LIST, b"\x00\x00", G.MALFORMED),
    ("unknown op", 99, b"", G.UNKNOWN_OP),
    ("op 0", 0, b"\x00", G.UNKNOWN_OP),
    ("out of range", G.OP_SET, b'{"cell_uv_trip_v": 5.0}', G.REFUSED),
    ("below range", G.OP_SET, b'{"cell_uv_trip_v": 2.0}', G.REFUSED),
    ("wrong type", G.OP_SET, b'{"cell_uv_trip_v": "2.7"}', G.REFUSED),
    ("bad choice", G.OP_SET, b'{"bluetooth": "maybe"}', G.REFUSED),
    ("order rule", G.OP_SET, b'{"cell_uv_trip_v": 2.95, "pre_alarm_trip_v": 2.9}', G.REFUSED),
    ("one bad of two", G.OP_SET, b'{"cell_uv_trip_v": 2.7, "cell_ov_trip_v": 9}', G.REFUSED),
    ("unknown setting", G.OP_SET, b'{"no_such_setting": 1}', G.REFUSED),
    ("get unknown", G.OP_GET, b"no_such_setting", G.REFUSED),
]


@pytest.mark.parametrize("name,op,body,want", MALFORMED_CASES, ids=[c[0] for c in MALFORMED_CASES])
def test_a_refused_command_changes_nothing(name, op, body, want):
    r = rig()
    h, token = phone(r)
    before = snapshot(r)
    if op is None:
        data = token[:3]
    elif op == "no op":
        data = token + struct.pack("<H", 1)
    else:
        data = envelope(token, 1, op, body)
    assert r.ble.write(h, G.COMMAND_UUID, data) == 0
    status = results(r, h)[-1][1]
    assert status == want, (G.STATUS_NAMES[status], results(r, h)[-1][2])
    assert r.app.inbox.pending() == 0
    assert r.radio.commands_refused == 1 and r.radio.commands_ok == 0
    assert r.radio.last_refusal.startswith(G.STATUS_NAMES[want])
    r.run_for(3000)
    assert snapshot(r) == before
    assert r.st.soft_on and r.st.atd and r.st.atc
    # The session still works afterwards.
    assert command(r, h, token, 2, G.OP_GET, b"cell_uv_trip_v") == (G.OK, json.dumps({"cell_uv_trip_v": 2.8}))


def test_replayed_and_lower_seq_are_refused():
    r = rig()
    h, token = phone(r)
    off = envelope(token, 5, G.OP_SWITCH, b"\x00")
    assert r.ble.write(h, G.COMMAND_UUID, off) == 0
    assert results(r, h)[-1][1] == G.OK
    r.run_for(100)
    assert not r.st.soft_on
    assert command(r, h, token, 6, G.OP_SWITCH, b"\x01")[0] == G.OK
    r.run_for(100)
    assert r.st.soft_on
    before = snapshot(r)
    assert r.ble.write(h, G.COMMAND_UUID, off) == 0          # the same bytes again
    assert results(r, h)[-1][:2] == (5, G.REPLAYED)
    assert command(r, h, token, 6, G.OP_SWITCH, b"\x00")[0] == G.REPLAYED
    assert command(r, h, token, 0, G.OP_SWITCH, b"\x00")[0] == G.REPLAYED
    assert r.app.inbox.pending() == 0
    r.run_for(2000)
    assert snapshot(r) == before and r.st.soft_on
    assert command(r, h, token, 7, G.OP_GET, b"bluetooth") == (G.OK, '{"bluetooth": "on"}')


def test_a_refused_command_spends_its_seq():
    r = rig()
    h, token = phone(r)
    assert command(r, h, token, 3, G.OP_SET, b'{"cell_uv_trip_v": 5.0}')[0] == G.REFUSED
    assert command(r, h, token, 3, G.OP_SET, b'{"cell_uv_trip_v": 2.7}')[0] == G.REPLAYED
    r.run_for(200)
    assert r.s.get("cell_uv_trip_v") == 2.8


def test_another_connections_token_is_a_bad_session():
    r = rig()
    ha, ta = phone(r, ADDR[0])
    hb, tb = phone(r, ADDR[1])
    assert ta != tb
    before = snapshot(r)
    assert command(r, hb, ta, 1, G.OP_SWITCH, b"\x00")[0] == G.BAD_SESSION
    assert command(r, ha, tb, 1, G.OP_SWITCH, b"\x00")[0] == G.BAD_SESSION
    assert command(r, ha, b"\x00\x00\x00\x00", 2, G.OP_SWITCH, b"\x00")[0] == G.BAD_SESSION
    r.run_for(2000)
    assert snapshot(r) == before
    # A bad session does not spend the seq: the rightful owner can still use 1.
    assert command(r, ha, ta, 1, G.OP_SWITCH, b"\x00")[0] == G.OK


def test_an_old_sessions_token_after_reconnect_is_a_bad_session():
    r = rig()
    h, old = phone(r, ADDR[0])
    assert command(r, h, old, 1, G.OP_GET, b"bluetooth")[0] == G.OK
    r.ble.disconnect(h)
    h2 = r.ble.connect(ADDR[0])
    assert r.ble.resume(h2)                            # bonded: no PIN
    rc, new = r.ble.read(h2, G.SESSION_UUID)
    assert rc == 0 and new != old
    before = snapshot(r)
    assert command(r, h2, old, 2, G.OP_SWITCH, b"\x00")[0] == G.BAD_SESSION
    r.run_for(1000)
    assert snapshot(r) == before
    assert command(r, h2, new, 1, G.OP_SWITCH, b"\x00")[0] == G.OK    # a new session starts its seq anew
    r.run_for(100)
    assert not r.st.soft_on


def test_an_accepted_set_changes_the_setting_at_the_next_tick():
    r = rig()
    h, token = phone(r)
    assert command(r, h, token, 1, G.OP_SET, b'{"cell_uv_trip_v": 2.7, "ble_model_id": 41960}') == (G.OK, "queued")
    assert r.s.get("cell_uv_trip_v") == 2.8 and r.app.inbox.pending() == 1
    r.run_for(100)
    assert r.s.get("cell_uv_trip_v") == 2.7 and r.s.get("ble_model_id") == 0xA3E8
    assert command(r, h, token, 2, G.OP_GET, b"cell_uv_trip_v") == (G.OK, '{"cell_uv_trip_v": 2.7}')
    r.run_for(2000)
    p = manufacturer(r)
    assert p[2] | (p[3] << 8) == 0xA3E8                 # the model id setting reaches the advertisement


def test_a_set_is_checked_against_the_changes_still_waiting():
    r = rig()
    h, token = phone(r)
    assert command(r, h, token, 1, G.OP_SET, b'{"pre_alarm_trip_v": 2.9}')[0] == G.OK
    # 2.95 is fine against the current pre-alarm (3.1) but not against the queued 2.9.
    assert command(r, h, token, 2, G.OP_SET, b'{"cell_uv_trip_v": 2.95}')[0] == G.REFUSED
    r.run_for(100)
    assert r.s.get("pre_alarm_trip_v") == 2.9 and r.s.get("cell_uv_trip_v") == 2.8


def test_a_full_inbox_is_busy_and_the_seq_can_be_retried():
    r = rig()
    h, token = phone(r)
    for _ in range(I.MAX_PENDING):
        r.app.inbox.post((I.CLEAR_HISTORY,))
    assert command(r, h, token, 1, G.OP_SWITCH, b"\x00")[0] == G.BUSY
    r.run_for(100)
    assert r.st.soft_on
    assert command(r, h, token, 1, G.OP_SWITCH, b"\x00")[0] == G.OK
    r.run_for(100)
    assert not r.st.soft_on


def test_list_pages_name_every_setting():
    r = rig()
    h, token = phone(r)
    text = ""
    for page in range(10):
        status, chunk = command(r, h, token, page + 1, G.OP_LIST, bytes([page]))
        assert status == G.OK
        if not chunk:
            break
        text += chunk
    assert text.split(",") == r.s.names()


# ---------------------------------------------------------------- the soft switch
@pytest.mark.parametrize("function,withdrawn", [("ports_only", [C.PORT_ALT, C.PORT_SYS_CHG, C.PORT_SYS_DIS]),
                                                 ("all_off", list(range(C.N_PORTS)))])
def test_soft_switch_off_over_ble_withdraws_what_remote_off_withdraws(function, withdrawn):
    # The reference first: one rig at a time (each installs its own pin mock).
    ref = rig(remote_function=function)
    ref.set_remote("open")                             # the remote terminal off
    ref.run_for(2000)
    assert not ref.st.remote_on and ref.st.soft_on
    ref_allowed = list(ref.st.allowed)
    ref_reasons = [ref.st.reason_list(port) for port in range(C.N_PORTS)]
    r = rig(remote_function=function)
    h, token = phone(r)
    assert all(r.st.allowed)
    assert command(r, h, token, 1, G.OP_SWITCH, b"\x00")[0] == G.OK
    r.run_for(2000)
    for port in range(C.N_PORTS):
        assert r.st.allowed[port] == ref_allowed[port], C.PORT_NAMES[port]
        assert r.st.reason_list(port) == ref_reasons[port], C.PORT_NAMES[port]
        if port in withdrawn:
            assert not r.st.allowed[port] and r.st.reason_list(port) == [C.REASON_REMOTE_OFF]
        else:
            assert r.st.allowed[port]
    assert not r.st.remote_on and not r.st.soft_on
    p = manufacturer(r)
    if p[4] != R.RECORD_BMS:                           # the next slot carries record 0x0A
        r.run_for(1000)
        p = manufacturer(r)
    assert p[4] == R.RECORD_BMS
    bits = detect_device_type(p)(r.app.ble_keys.key.hex()).parse(p).get_io_status()
    assert not bits & R.IO_SOFT_ON and not bits & R.IO_REMOTE_ON
    assert command(r, h, token, 2, G.OP_SWITCH, b"\x01")[0] == G.OK
    r.run_for(2000)
    assert r.st.soft_on and r.st.remote_on and all(r.st.allowed)
    assert all(r.st.reason_list(p) == [] for p in range(C.N_PORTS))


# ---------------------------------------------------------------- PIN, bonds, factory reset
def test_set_pin_changes_the_pin_and_persists():
    fs = MemFs()
    r = rig(fs=fs)
    h, token = phone(r, ADDR[0], pin=0)
    assert command(r, h, token, 1, G.OP_SET_PIN, b"123456")[0] == G.OK
    assert r.app.ble_keys.pin == 0
    r.run_for(100)
    assert r.app.ble_keys.pin == 123456
    h2 = r.ble.connect(ADDR[1])
    assert r.ble.pair(h2, 0) is False                  # the old PIN no longer pairs
    r.ble.disconnect(h2)
    h3 = r.ble.connect(ADDR[2])
    assert r.ble.pair(h3, 123456) is True
    r.run_for(1500)                                    # the credentials are saved within a second
    assert not r.app.ble_keys.dirty
    back = K.BleKeys(lambda n: b"\x77" * n, fs)
    assert back.status == store.OK and not back.corrupt
    assert back.pin == 123456 and back.key == r.app.ble_keys.key
    assert [b[1] for b in back.bonds] == [ADDR[0], ADDR[2]]
    # A new boot on the same storage needs the new PIN.
    r2 = rig(fs=fs)
    assert r2.app.ble_keys.pin == 123456
    h4 = r2.ble.connect(ADDR[3])
    assert r2.ble.pair(h4, 0) is False
    assert r2.ble.pair(h4, 123456) is True


def test_pin_with_leading_zeros():
    r = rig()
    h, token = phone(r)
    assert command(r, h, token, 1, G.OP_SET_PIN, b"000042")[0] == G.OK
    r.run_for(100)
    assert r.app.ble_keys.pin == 42
    h2 = r.ble.connect(ADDR[1])
    assert r.ble.pair(h2, 42)


def test_a_bond_resumes_without_pin_and_survives_a_reload():
    fs = MemFs()
    r = rig(fs=fs)
    h, _ = phone(r, ADDR[0], bond=True)
    assert len(r.app.ble_keys.bonds) == 1 and r.app.ble_keys.bonds[0][1] == ADDR[0]
    r.ble.disconnect(h)
    h2 = r.ble.connect(ADDR[0])
    assert not r.radio.slots[0].authenticated
    assert r.ble.resume(h2) is True
    assert r.radio._slot(h2).authenticated and r.radio._slot(h2).bonded
    rc, token = r.ble.read(h2, G.SESSION_UUID)
    assert rc == 0
    assert command(r, h2, token, 1, G.OP_GET, b"bluetooth")[0] == G.OK
    # A phone that never bonded cannot resume.
    h3 = r.ble.connect(ADDR[1])
    assert r.ble.resume(h3) is False
    assert r.ble.write(h3, G.COMMAND_UUID, envelope(b"\x00" * 4, 1, G.OP_SWITCH, b"\x00")) == ATT_AUTH
    # Paired without a bond: no resume later either.
    h4 = r.ble.connect(ADDR[2])
    assert r.ble.pair(h4, 0, bond=False)
    r.ble.disconnect(h4)
    h4 = r.ble.connect(ADDR[2])
    assert r.ble.resume(h4) is False
    r.run_for(1500)
    # Reboot on the same storage: the bond is still there.
    r2 = rig(fs=fs)
    assert [b[1] for b in r2.app.ble_keys.bonds] == [ADDR[0]]
    h5 = r2.ble.connect(ADDR[0])
    assert r2.ble.resume(h5) is True
    rc, token = r2.ble.read(h5, G.SESSION_UUID)
    assert rc == 0
    assert command(r2, h5, token, 1, G.OP_SWITCH, b"\x00")[0] == G.OK
    r2.run_for(100)
    assert not r2.st.soft_on


def test_factory_reset_restores_the_pin_forgets_bonds_keeps_the_key():
    fs = MemFs()
    r = rig(fs=fs)
    key = r.app.ble_keys.key
    h, token = phone(r, ADDR[0])
    assert command(r, h, token, 1, G.OP_SET_PIN, b"654321")[0] == G.OK
    r.run_for(1500)
    assert r.app.ble_keys.pin == 654321 and len(r.app.ble_keys.bonds) == 1
    r.ble.disconnect(h)
    r.app.inbox.post((I.FACTORY_RESET,))
    r.run_for(100)
    keys = r.app.ble_keys
    assert keys.pin == 0 and keys.bonds == [] and keys.key == key
    h2 = r.ble.connect(ADDR[0])
    assert r.ble.resume(h2) is False                   # the bond is forgotten
    assert r.ble.pair(h2, 654321) is False
    assert r.ble.pair(h2, 0) is True
    r.ble.disconnect(h2)
    r.run_for(1500)
    back = K.BleKeys(lambda n: b"\x55" * n, fs)
    assert back.pin == 0 and back.key == key
    assert [b[1] for b in back.bonds] == [ADDR[0]]     # only the bond made after the reset
    p = manufacturer(r)
    assert p[7] == key[0]
    detect_device_type(p)(key.hex()).parse(p)


# ---------------------------------------------------------------- values and notifications
def live(v):
    return struct.unpack(G.LIVE_FMT, v)


def test_notifications_reach_authenticated_phones_only_and_decode_to_the_status():
    r = rig(batteries=2)
    r.batteries[0].cells = (3310, 3290, 3305, 3300)
    r.batteries[1].cells = (3320, 3280, 3300, 3315)
    r.batteries[0].temps = (215, 233)
    r.batteries[0].current_ma = r.batteries[1].current_ma = -7400
    r.app.inbox.post((I.SET_SOC, 80))
    r.run_for(2000)
    assert r.st.bank.temp_max_dc == 233
    authed, _ = phone(r, ADDR[0])
    plain = r.ble.connect(ADDR[1])
    just = r.ble.connect(ADDR[2])
    r.ble.encrypt_unauthenticated(just)
    assert just not in r.ble.centrals                   # paired without the PIN: dropped
    wrong = r.ble.connect(ADDR[3])
    assert not r.ble.pair(wrong, 999999)
    checked = 0
    for _ in range(60):                                  # 6 s: every value refresh checked
        n = r.radio.notifies
        r.run_for(100)
        if r.radio.notifies == n:
            continue
        st = r.st
        v = live(r.ble.notifications(authed, G.LIVE_UUID)[-1])
        assert v[0] == st.bank.bank_mv
        assert st.current_known and v[1] == st.current_ma
        assert v[2] == st.soc_pct10 and st.soc_pct10 >= 0
        assert v[3] == (st.ttg_min if st.ttg_min >= 0 else 0xFFFF)
        assert v[4] == st.consumed_mah
        assert v[5] == st.bank.temp_max_dc == 233
        assert v[6] == R.io_status(st)
        assert v[7] == R.error_byte(st.active)
        assert v[8] == sum(st.active)
        (mask,) = struct.unpack("<I", r.ble.notifications(authed, G.CODES_UUID)[-1])
        assert mask == sum(1 << c for c in range(C.N_CODES) if st.active[c])
        b = r.ble.notifications(authed, G.BATTERY_UUID)[-1]
        i, count, ncells, flags, vmv, t = struct.unpack(G.BATTERY_HEAD, b[:8])
        assert count == 2 and ncells == 4
        assert vmv == st.bank.voltage_mv[i]
        assert list(struct.unpack("<4H", b[8:16])) == list(r.batteries[i].cells)
        assert b[16:] == bytes(24)
        assert t == max(r.batteries[i].temps)
        checked += 1
    assert checked >= 5
    assert v[1] < 0 and abs(v[1] - (-14800)) <= 100     # two batteries discharging 7.4 A
    assert {struct.unpack(G.BATTERY_HEAD, b[:8])[0] for b in r.ble.notifications(authed, G.BATTERY_UUID)} == {0, 1}
    for other in (plain, wrong):
        assert r.ble.notifications(other) == []
    # The authenticated phone reads the same value.
    rc, val = r.ble.read(authed, G.LIVE_UUID)
    assert rc == 0 and val == r.ble.notifications(authed, G.LIVE_UUID)[-1]


@pytest.mark.parametrize("enforce", [True, False])
def test_reads_by_an_unauthenticated_phone_are_refused(enforce):
    r = rig()
    r.ble.enforce = enforce
    r.run_for(1000)
    h = r.ble.connect(ADDR[0])
    for uuid in (G.LIVE_UUID, G.CODES_UUID, G.BATTERY_UUID, G.SESSION_UUID, G.RESULT_UUID):
        rc, val = r.ble.read(h, uuid)
        assert rc == ATT_AUTH and val == b"", uuid
    ha, _ = phone(r, ADDR[1])
    assert r.ble.read(ha, G.LIVE_UUID)[0] == 0


def test_values_with_unknowns():
    v = G.Values()
    import status
    st = status.Status()
    v.fill(st)
    assert live(v.live) == (0xFFFF, 0x7FFFFFFF, 0xFFFF, 0xFFFF, 0, 0x7FFF, R.io_status(st), 0, 0)
    assert bytes(v.codes) == bytes(4) and bytes(v.battery) == bytes(40)
    st.active[C.E_B31] = st.active[C.W_B01] = 1
    v.fill(st)
    assert live(v.live)[7:] == (31, 2)
    assert struct.unpack("<I", v.codes)[0] == (1 << C.E_B31) | (1 << C.W_B01)


# ---------------------------------------------------------------- ble_keys
def corrupt_fs():
    fs = MemFs()
    store.save(fs, K.KEYS_FILE, K.BleKeys(lambda n: b"\x11" * n).doc())
    raw = bytearray(fs.files[K.KEYS_FILE])
    raw[10] ^= 0x01                                     # a flipped bit: the CRC fails
    fs.files[K.KEYS_FILE] = bytes(raw)
    return fs


def test_corrupt_file_gives_a_new_key_and_corrupt():
    fs = corrupt_fs()
    k = K.BleKeys(lambda n: b"\x22" * n, fs)
    assert k.corrupt and k.status == store.CORRUPT and k.dirty
    assert k.key == b"\x22" * 16 and k.pin == 0 and k.bonds == []


@pytest.mark.parametrize("doc", [
    {"kind": "ble", "version": 1, "key": "zz", "pin": 0, "bonds": []},
    {"kind": "ble", "version": 1, "key": "00" * 15, "pin": 0, "bonds": []},
    {"kind": "ble", "version": 1, "key": "00" * 16, "pin": 1000000, "bonds": []},
    {"kind": "ble", "version": 1, "key": "00" * 16, "pin": "000000", "bonds": []},
    {"kind": "ble", "version": 1, "key": "00" * 16, "pin": 0, "bonds": [[1, "xx", "00"]]},
    {"kind": "ble", "version": 1, "key": "00" * 16, "pin": 0},
    {"kind": "settings", "version": 1, "key": "00" * 16, "pin": 0, "bonds": []},
    {"kind": "ble", "version": 2, "key": "00" * 16, "pin": 0, "bonds": []},
    [1, 2, 3],
])
def test_a_well_sealed_but_wrong_document_is_corrupt(doc):
    fs = MemFs()
    store.save(fs, K.KEYS_FILE, doc)
    k = K.BleKeys(lambda n: b"\x33" * n, fs)
    assert k.corrupt and k.status == store.CORRUPT
    assert k.key == b"\x33" * 16 and k.pin == 0 and k.bonds == []


def test_missing_file_is_a_first_boot_not_corrupt():
    fs = MemFs()
    k = K.BleKeys(lambda n: b"\x44" * n, fs)
    assert not k.corrupt and k.status == store.MISSING and k.dirty
    k.save()
    back = K.BleKeys(lambda n: b"\x99" * n, fs)
    assert back.status == store.OK and back.key == b"\x44" * 16


def test_a_corrupt_ble_file_is_e_b31_until_a_factory_reset():
    fs = corrupt_fs()
    r = Rig(ble=True, fs=fs)
    assert r.app.ble_keys.corrupt
    r.run(3000)
    assert "E-B31" in r.st.active_codes()
    r.run_for(5000)
    assert "E-B31" in r.st.active_codes()           # saving the new key does not clear it
    assert store.load(fs, K.KEYS_FILE)[1] == store.OK
    key = r.app.ble_keys.key
    r.app.inbox.post((I.FACTORY_RESET,))
    r.run_for(2000)
    assert "E-B31" not in r.st.active_codes()
    assert r.app.ble_keys.key == key and not r.app.ble_keys.corrupt
    # The new key is on the air and decodes.
    p = manufacturer(r)
    assert p[7] == key[0]
    detect_device_type(p)(key.hex()).parse(p)


def test_a_good_ble_file_is_no_error():
    fs = MemFs()
    r = rig(fs=fs)
    r.run_for(2000)
    assert "E-B31" not in r.st.active_codes()
    r2 = rig(fs=fs)
    r2.run_for(2000)
    assert r2.app.ble_keys.status == store.OK and r2.app.ble_keys.key == r.app.ble_keys.key
    assert "E-B31" not in r2.st.active_codes()


def test_max_bonds_evicts_the_oldest():
    k = K.BleKeys(lambda n: b"\x01" * n)
    n = K.MAX_BONDS + 5
    for i in range(n):
        assert k.set_secret(1, b"addr%03d" % i, b"ltk%03d" % i) is True
        assert k.bonds == [] or k.bonds[-1][1] != b"addr%03d" % i   # held until authenticated
        k.commit()
    assert len(k.bonds) == K.MAX_BONDS
    assert [b[1] for b in k.bonds] == [b"addr%03d" % i for i in range(5, n)]
    assert k.get_secret(1, 0, b"addr000") is None
    assert k.get_secret(1, 0, b"addr005") == b"ltk005"
    assert k.get_secret(1, 0, None) == b"ltk005"        # by index: oldest first
    assert k.get_secret(1, K.MAX_BONDS - 1, None) == b"ltk%03d" % (n - 1)
    assert k.get_secret(1, K.MAX_BONDS, None) is None
    assert k.get_secret(2, 0, None) is None
    # Re-storing a key moves it to the newest; deleting removes it.
    k.set_secret(1, b"addr005", b"new")
    k.commit()
    assert k.bonds[-1] == [1, b"addr005", b"new"] and len(k.bonds) == K.MAX_BONDS
    k.set_secret(1, b"addr006", None)
    assert k.get_secret(1, 0, b"addr006") is None and len(k.bonds) == K.MAX_BONDS - 1
    # Types are kept apart.
    k.set_secret(2, b"addr007", b"irk")
    k.commit()
    assert k.get_secret(2, 0, b"addr007") == b"irk" and k.get_secret(1, 0, b"addr007") == b"ltk007"


def test_a_long_bond_list_loads_only_the_newest():
    fs = MemFs()
    doc = K.BleKeys(lambda n: b"\x01" * n).doc()
    doc["bonds"] = [[1, ("%02x" % i) * 6, "00" * 16] for i in range(K.MAX_BONDS + 4)]
    store.save(fs, K.KEYS_FILE, doc)
    k = K.BleKeys(lambda n: b"\x02" * n, fs)
    assert not k.corrupt and len(k.bonds) == K.MAX_BONDS
    assert k.bonds[0][1] == bytes([4] * 6)


def test_set_pin_and_parse_pin_limits():
    k = K.BleKeys(lambda n: b"\x01" * n)
    for bad in (-1, 1000000, "123456", 1.0):
        with pytest.raises(ValueError):
            k.set_pin(bad)
    assert k.pin == 0
    assert K.parse_pin(b"999999") == 999999 and K.parse_pin("000000") == 0
    for bad in (b"12345", b"1234567", b"12 456", b"-12345", "١٢٣٤٥٦"):
        with pytest.raises(ValueError):
            K.parse_pin(bad)
    assert K.pin_text(42) == "000042"


# --- a failing radio never reaches the control loop or the stack ------------------

def test_a_radio_call_that_raises_in_the_tick_is_counted_and_protection_goes_on():
    r = rig()
    h, token = phone(r)

    def broken_notify(conn, handle, data=None):
        raise OSError(-128)           # NimBLE: the phone left between its event and the notify
    r.ble.gatts_notify = broken_notify
    r.run_for(3000)
    assert r.radio.errors >= 1 and "OSError" in r.radio.last_error
    assert not r.st.stopped
    # Protection still acts: a low cell withdraws ATD as without Bluetooth.
    r.set_cells(3300, 2500, 3300, 3300)
    r.run_for(40000)
    assert not r.st.atd and "A-B01" in r.st.reason_list(C.PORT_ATD)


def test_an_exception_inside_a_radio_event_does_not_escape_into_the_stack():
    r = rig()
    h, token = phone(r)

    def broken_read(handle):
        raise RuntimeError("stack buffer gone")
    r.ble.gatts_read = broken_read
    before = r.radio.errors
    # The mock calls the firmware's handler as NimBLE would: it must return normally.
    assert r.ble.write(h, G.COMMAND_UUID, token + b"\x01\x00\x03\x00") == 0
    assert r.radio.errors == before + 1
    assert r.app.inbox.pending() == 0
    status = r.ble._irq(4, (h, r.ble.handle(G.LIVE_UUID)))   # a read request still answers
    assert status == 0


def test_a_write_longer_than_the_command_buffer_is_cut_and_refused_as_malformed():
    r = rig()
    h, token = phone(r)
    before = snapshot(r)
    body = b'{"charge_limit_v": 14.1, "pad": "' + b"x" * 300 + b'"}'
    status, text = command(r, h, token, 1, G.OP_SET, body)
    assert status == G.MALFORMED
    r.run_for(2000)
    assert snapshot(r) == before and r.s.get("charge_limit_v") == 14.2


def test_forgetting_the_phones_cuts_off_the_connected_ones_too():
    r = rig()
    h, token = phone(r)
    r.app.inbox.post((I.FACTORY_RESET,))
    r.run_for(500)
    assert h not in r.ble.centrals and r.radio.connections() == 0
    assert r.app.ble_keys.bonds == [] and r.app.ble_keys.pin == 0
