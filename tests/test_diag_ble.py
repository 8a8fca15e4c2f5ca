"""diag's Bluetooth lines and commands (firmware/diag_ble.py, via diag)."""
import pytest

from bmsutil import Rig
from host_tools import ble_mock


def _run(r, until_ms):
    t = r.t + 100 if r.t is not None else 0
    while t <= until_ms:
        r.at(t)
        t += 100


def test_lines_show_state_key_and_connections_never_the_pin():
    import diag
    import diag_ble
    r = Rig(ble=True)
    r.app.ble_keys.set_pin(482913)
    _run(r, 3000)
    lines = diag_ble.ble_lines(r.app)
    assert lines == diag.ble_lines(r.app)
    assert lines[0].startswith("bluetooth: advertising, 0 connected (0 paired)")
    assert r.app.ble_keys.key.hex() in lines[1]
    assert "482913" not in "\n".join(lines)
    c = r.ble.connect()
    assert r.ble.pair(c, 482913)
    _run(r, 4000)
    assert diag.ble_lines(r.app)[0].startswith("bluetooth: connected, 1 connected (1 paired)")


def test_a_board_without_bluetooth_says_so():
    import diag
    r = Rig()
    assert diag.ble_lines(r.app) == ["bluetooth: not on this board"]
    assert diag.set_pin("123456", r.app) is False and diag.forget_bonds(r.app) is False
    assert diag.new_advert_key(r.app) is False


def test_set_pin_is_checked_then_applied_by_the_tick():
    import diag
    r = Rig(ble=True)
    _run(r, 1000)
    for bad in ("12345", "1234567", "12a456", 123456, None):
        assert diag.set_pin(bad, r.app) is False
    assert r.app.inbox.pending() == 0
    assert diag.set_pin("000042", r.app) is True
    assert r.app.ble_keys.pin == 0          # not yet: the tick applies it
    _run(r, 1100)
    assert r.app.ble_keys.pin == 42
    c = r.ble.connect()
    assert not r.ble.pair(c, 0)
    assert r.ble.pair(c, 42)


def test_new_advert_key_changes_what_decoders_need():
    import diag
    from victron_ble.devices import detect_device_type
    r = Rig(ble=True)
    _run(r, 2000)
    old = r.app.ble_keys.key
    diag.new_advert_key(r.app)
    new = r.app.ble_keys.key
    assert new != old and len(new) == 16
    _run(r, 4500)
    payload = ble_mock.parse_manufacturer(r.ble.adv[1])[1]
    assert payload[7] == new[0]
    data = detect_device_type(payload)(new.hex()).parse(payload)
    assert data is not None


def test_forget_bonds():
    import diag
    r = Rig(ble=True)
    _run(r, 1000)
    c = r.ble.connect()
    assert r.ble.pair(c, 0)
    assert r.app.ble_keys.bonds
    diag.forget_bonds(r.app)
    assert r.app.ble_keys.bonds == [] and r.app.ble_keys.dirty
    r.ble.disconnect(c)
    c = r.ble.connect()
    assert not r.ble.resume(c)
