"""Every board file builds on its own chip's pin mock, and each chip's pin mock
refuses each misuse that chip refuses."""
import glob
import json
import os

import pytest

import host_tools

BOARDS = sorted(glob.glob(os.path.join(host_tools.BOARDS_DIR, "*.json")))


@pytest.mark.parametrize("path", BOARDS, ids=os.path.basename)
def test_board_builds_on_its_chip(path):
    chip = json.load(open(path))["chip"]
    pm = host_tools.use_firmware(chip)
    import board
    import hw
    h = hw.Hardware(board.load(path))
    for name, o in h.board["outputs"].items():
        assert pm.level(o["pin"]) == (0 if o.get("active_high", True) else 1), name


def test_the_three_boards_exist():
    assert {json.load(open(p))["chip"] for p in BOARDS} == {"esp32", "esp32s3", "esp32c3"}


MISUSES = [
    ("esp32", lambda m: m.Pin(34, m.Pin.OUT), "input-only"),
    ("esp32", lambda m: m.Pin(39, m.Pin.OPEN_DRAIN), "input-only"),
    ("esp32", lambda m: m.Pin(6), "flash"),
    ("esp32", lambda m: m.Pin(11, m.Pin.OUT), "flash"),
    ("esp32", lambda m: m.Pin(20), "invalid pin"),
    ("esp32", lambda m: m.Pin(40), "invalid pin"),
    ("esp32", lambda m: m.ADC(m.Pin(5)), "no ADC"),
    ("esp32", lambda m: m.UART(3), "does not exist"),
    ("esp32", lambda m: m.PWM(m.Pin(36)), "input-only"),
    ("esp32s3", lambda m: m.Pin(26), "flash"),
    ("esp32s3", lambda m: m.Pin(32, m.Pin.OUT), "flash"),
    ("esp32s3", lambda m: m.Pin(22), "invalid pin"),
    ("esp32s3", lambda m: m.Pin(49), "invalid pin"),
    ("esp32s3", lambda m: m.ADC(m.Pin(21)), "no ADC"),
    ("esp32s3", lambda m: m.UART(3), "does not exist"),
    ("esp32c3", lambda m: m.Pin(12), "flash"),
    ("esp32c3", lambda m: m.Pin(17, m.Pin.OUT), "flash"),
    ("esp32c3", lambda m: m.Pin(22), "invalid pin"),
    ("esp32c3", lambda m: m.ADC(m.Pin(5)), "no ADC"),
    ("esp32c3", lambda m: m.UART(2), "does not exist"),
    ("esp32c3", lambda m: m.PWM(m.Pin(3), duty_u16=70000), "duty_u16"),
]


@pytest.mark.parametrize("chip,misuse,words", MISUSES, ids=["%s-%d" % (m[0], i) for i, m in enumerate(MISUSES)])
def test_chip_refuses(chip, misuse, words):
    m = host_tools.use_firmware(chip)
    with pytest.raises(ValueError, match=words):
        misuse(m)


@pytest.mark.parametrize("chip", ["esp32", "esp32s3", "esp32c3"])
def test_a_board_file_with_a_flash_pin_fails_on_that_chip(chip, tmp_path):
    path = next(p for p in BOARDS if json.load(open(p))["chip"] == chip)
    b = json.load(open(path))
    flash = {"esp32": 6, "esp32s3": 27, "esp32c3": 13}[chip]
    b["outputs"]["pre_alarm"]["pin"] = flash
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(b))
    host_tools.use_firmware(chip)
    import board
    import hw
    with pytest.raises(ValueError, match="flash"):
        hw.Hardware(board.load(str(bad)))
