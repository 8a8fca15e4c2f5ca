"""firmware/board.py and firmware/hw.py: board files as data, polarity, safe state."""
import copy
import json

import pytest

import host_tools

host_tools.use_firmware()
import board as B  # noqa: E402

DEVKITC = json.load(open(host_tools.board_path("esp32-devkitc")))


def test_devkitc_board_is_valid_and_every_pin_is_usable(pin_mock):
    import hw
    b = B.load(host_tools.board_path("esp32-devkitc"))
    h = hw.Hardware(b)                 # the pin mock refuses any pin the chip refuses
    assert all(pin_mock.level(o["pin"]) == 0 for o in b["outputs"].values())


@pytest.mark.parametrize("change,words", [
    (lambda b: b.pop("link_uart"), "lacks 'link_uart'"),
    (lambda b: b["outputs"].pop("load_disconnect"), "lacks output 'load_disconnect'"),
    (lambda b: b["outputs"]["pre_alarm"].update(pin=25), "used by both"),
    (lambda b: b["outputs"].update(buzzer={"pin": 4}), "unknown output"),
    (lambda b: b["inputs"]["remote_h"].update(adc_pin=17), "link UART pin 17"),
    (lambda b: b["link_uart"].update(baudrate="fast"), "integer"),
    (lambda b: b["inputs"]["remote_l"].update(divider_x1000=500), "divider"),
])
def test_bad_board_files_are_refused(change, words):
    b = copy.deepcopy(DEVKITC)
    change(b)
    with pytest.raises(B.BoardError, match=words):
        B.validate(b)


def test_polarity_and_safe_state(pin_mock):
    import hw
    b = copy.deepcopy(DEVKITC)
    b["outputs"]["charge_disconnect"]["active_high"] = False
    del b["outputs"]["system_discharge"]
    h = hw.Hardware(B.validate(b))
    assert pin_mock.level(26) == 1                       # active-low output starts off = high
    h.set_output(B.OUT_CHARGE_DISCONNECT, True)
    h.set_output(B.OUT_LOAD_DISCONNECT, True)
    h.set_output(B.OUT_SYSTEM_DISCHARGE, True)           # absent on this board: ignored
    assert (pin_mock.level(26), pin_mock.level(25)) == (0, 1)
    h.all_safe()
    assert (pin_mock.level(26), pin_mock.level(25)) == (1, 0)


def test_remote_voltages_through_the_divider(pin_mock):
    import hw
    h = hw.Hardware(B.validate(copy.deepcopy(DEVKITC)))
    pin_mock.set_adc_mv(34, 600)                         # 600 mV at the pin
    assert h.remote_l_mv() == 600 * 22277 // 1000


SHUNT = json.load(open(host_tools.board_path("esp32-devkitc-shunt")))


@pytest.mark.parametrize("pin_mv,ma", [(1650, 0), (1800, 10000), (1500, -10000), (3100, 96666), (200, -96666)])
def test_shunt_current_both_ways(pin_mock, pin_mv, ma):
    import hw
    h = hw.Hardware(B.validate(copy.deepcopy(SHUNT)))
    pin_mock.set_adc_mv(36, pin_mv)
    assert h.has_shunt and h.shunt_ma() == ma


@pytest.mark.parametrize("change,words", [
    (lambda b: b["current"].update(source="hall"), "source"),
    (lambda b: b["current"].update(uv_per_a=5), "uv_per_a"),
    (lambda b: b["current"].update(adc_pin=34), "used by both"),
])
def test_bad_shunt_definitions_are_refused(change, words):
    b = copy.deepcopy(SHUNT)
    change(b)
    with pytest.raises(B.BoardError, match=words):
        B.validate(b)


def test_calibrating_the_zero_through_diag(pin_mock, capsys):
    import bms
    import diag
    import hw
    from settings import Settings
    app = bms.Bms(hw.Hardware(B.validate(copy.deepcopy(SHUNT))), Settings())
    pin_mock.set_adc_mv(36, 1680)                       # 2 A of offset at rest
    assert diag.calibrate_current_zero(app) == 2000
    assert app.settings.get("current_zero_offset_a") == 0.0    # posted: the next tick applies it
    app.tick(0)
    assert app.settings.get("current_zero_offset_a") == 2.0
    assert app.status.current_ma == 0 and app.status.current_known
    pin_mock.set_adc_mv(36, 1680 + 150)                 # +10 A
    app.tick(100)
    assert app.status.current_ma == 10000
    pin_mock.set_adc_mv(36, 3100)                       # far off: refused, nothing changed
    assert diag.calibrate_current_zero(app) is None
    app.tick(200)
    assert app.settings.get("current_zero_offset_a") == 2.0
    plain = bms.Bms(hw.Hardware(B.validate(copy.deepcopy(DEVKITC))), Settings())
    assert diag.calibrate_current_zero(plain) is None
    assert "no shunt" in capsys.readouterr().out
