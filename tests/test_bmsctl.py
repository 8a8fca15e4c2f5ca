"""bmsctl: one command line, every subcommand with --help, and a user's mistakes
answered with one line (what is wrong, what to type) and a non-zero exit."""
import os
import subprocess
import sys

import pytest

import host_tools
from host_tools import bmsctl, board_cmds

BMSCTL = os.path.join(os.path.dirname(sys.executable), "bmsctl")
SUBCOMMANDS = ("sim", "plot", "flash", "deploy", "repl", "reset", "diag", "settings", "scan", "ble", "models",
               "vboard")


def run(*args, env=None):
    """``bmsctl ARGS`` as the installed console script; (status, stdout, stderr)."""
    p = subprocess.run([BMSCTL] + list(args), capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})), cwd=host_tools.ROOT)
    return p.returncode, p.stdout, p.stderr


def one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_the_console_script_is_installed_and_lists_every_subcommand():
    assert os.access(BMSCTL, os.X_OK), "bmsctl is installed with the host tools (pip install -e .)"
    code, out, _ = run("--help")
    assert code == 0
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as e:
        bmsctl.main([name, "--help"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("usage: bmsctl " + name)


def test_an_unknown_subcommand_or_option_is_one_line():
    code, _, err = run("frobnicate")
    assert code == 2 and one_line(err).startswith("bmsctl: bmsctl: argument cmd: invalid choice: 'frobnicate'")
    code, _, err = run("flash", "--colour")
    assert code == 2 and "unrecognized arguments: --colour" in one_line(err)


def _image(path, chip):
    """A minimal firmware image for ``chip`` written by esptool's own image class."""
    from esptool.bin_image import ELFSection, ESP32C3FirmwareImage, ESP32FirmwareImage, ESP32S3FirmwareImage
    cls = {"esp32": ESP32FirmwareImage, "esp32s3": ESP32S3FirmwareImage, "esp32c3": ESP32C3FirmwareImage}[chip]
    img = cls()
    img.entrypoint = 0x40080000
    img.segments = [ELFSection(b".dram0.data", 0x3FFB0000, b"\x00" * 64, 0)]
    img.save(str(path))
    return str(path)


def test_make_flash_without_port_or_firmware_says_what_to_type():
    p = subprocess.run(["make", "-s", "flash", "PORT=", "FIRMWARE="], capture_output=True, text=True,
                       cwd=host_tools.ROOT, timeout=120)
    assert p.returncode != 0
    lines = [line for line in p.stderr.splitlines() if line.startswith("bmsctl")]
    assert len(lines) == 1 and "Traceback" not in p.stderr
    assert lines[0].startswith("bmsctl: no port given: make flash PORT=/dev/ttyUSB0 (serial ports here: ")
    code, _, err = run("flash", "--port", os.devnull, "--firmware", "")
    assert code == 2 and one_line(err).startswith(
        "bmsctl: no firmware file given: make flash PORT=/dev/ttyUSB0 FIRMWARE=ESP32_GENERIC-20251209-v1.27.0.bin")
    code, _, err = run("flash", "--port", os.devnull, "--firmware", "nope.bin")
    assert code == 2 and one_line(err) == ("bmsctl: no firmware file nope.bin: download MicroPython's .bin for esp32 "
                                           "from micropython.org/download")


def test_a_file_that_is_not_an_esp32_image_is_refused_before_anything_is_erased(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(board_cmds, "_esptool", lambda argv: calls.append(argv))
    txt = tmp_path / "firmware.bin"
    txt.write_text("<html>404 not found</html>")
    with pytest.raises(board_cmds.UserError) as e:
        board_cmds.flash(os.devnull, str(txt))
    assert str(e.value) == ("%s is not an ESP32 firmware image (it starts with 0x3c, an image with 0xe9): download "
                            "MicroPython's .bin for esp32 from micropython.org/download; nothing was erased" % txt)
    s3 = _image(tmp_path / "s3.bin", "esp32s3")
    with pytest.raises(board_cmds.UserError, match="s3.bin is an image for esp32s3, but this board is an esp32: "
                                                   "download the esp32 .bin; nothing was erased"):
        board_cmds.flash(os.devnull, s3)
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(b"\xe9\x03")
    with pytest.raises(board_cmds.UserError, match="short.bin is not a valid ESP image .*nothing was erased"):
        board_cmds.flash(os.devnull, str(truncated))
    assert calls == []                                  # esptool never ran
    good = _image(tmp_path / "esp32.bin", "esp32")
    steps = board_cmds.flash(os.devnull, good)
    assert calls == steps and calls[0][-1] == "erase-flash" and calls[1][-3:] == ["write-flash", "0x1000", good]
    c3 = _image(tmp_path / "c3.bin", "esp32c3")
    steps = board_cmds.flash(os.devnull, c3, "esp32-c3-devkitm-1")
    assert steps[1][-3:] == ["write-flash", "0x0", c3] and steps[0][:2] == ["--chip", "esp32c3"]
    code, _, err = run("flash", "--port", os.devnull, "--firmware", str(txt))
    assert code == 2 and one_line(err).startswith("bmsctl: %s is not an ESP32 firmware image" % txt)


def test_a_port_that_does_not_exist_is_one_line_for_deploy_repl_reset_diag_and_settings():
    for args in (("deploy", "--port", "/dev/ttyNOPE9"), ("repl", "--port", "/dev/ttyNOPE9"),
                 ("reset", "--port", "/dev/ttyNOPE9"), ("diag", "--port", "/dev/ttyNOPE9"),
                 ("settings", "get", "--port", "/dev/ttyNOPE9")):
        code, _, err = run(*args)
        assert code == 2, args
        assert one_line(err).startswith("bmsctl: no serial port /dev/ttyNOPE9 (serial ports here: "), args
        assert one_line(err).endswith("); is the board plugged in?")
    code, _, err = run("deploy", "--port", "")
    assert code == 2 and one_line(err).startswith("bmsctl: no port given: make deploy PORT=/dev/ttyUSB0")


def test_an_unknown_board_is_named_with_the_known_ones():
    code, _, err = run("flash", "--port", os.devnull, "--firmware", "x.bin", "--board", "nope")
    assert code == 2 and one_line(err) == "bmsctl: no board 'nope' (boards: %s)" % ", ".join(board_cmds.board_names())


def test_deploy_dry_run_lists_the_bundle_and_the_board_file():
    code, out, err = run("deploy", "--port", "/dev/ttyUSB0", "--dry-run", "--sources", "--board", "esp32-devkitc-lynx")
    assert code == 0, err
    lines = out.splitlines()
    assert "firmware/main.py -> :/main.py" in lines and "firmware/models.py -> :/models.py" in lines
    assert lines[-1] == "boards/esp32-devkitc-lynx.json -> :/board.json"
    code, out, _ = run("deploy", "--port", "/dev/ttyUSB0", "--dry-run", "--sources", "--dest", ":/lib/")
    assert "firmware/bms.py -> :/lib/bms.py" in out.splitlines()


def test_the_old_entry_point_is_bmsctl():
    p = subprocess.run([sys.executable, "-m", "host_tools.board_tool", "flash", "--port", "/dev/ttyNOPE9",
                        "--firmware", "x.bin"], capture_output=True, text=True, cwd=host_tools.ROOT)
    assert p.returncode == 2 and one_line(p.stderr).startswith("bmsctl: no serial port /dev/ttyNOPE9")


def test_settings_files_are_checked_before_anything_is_sent(tmp_path):
    path = tmp_path / "s.toml"
    code, out, err = run("settings", "export", "--defaults", "--model", "smallbms_ng", str(path))
    assert code == 0, err
    text = path.read_text()
    assert 'model = "smallbms_ng"' in text and "cell_uv_trip_v = 2.8" in text and "fuse_type" not in text
    code, out, err = run("settings", "check", str(path))
    assert code == 0 and out.strip().endswith("settings, all valid")
    bad = tmp_path / "bad.toml"
    for body, want in (
            ("[settings]\ncell_uv_trip_v = 9.0\n", "bad.toml: cell_uv_trip_v must be within 2.6..3.0 V, not 9.0; "
                                                  "nothing was sent"),
            ("[settings]\ncell_uv_trip_v = 3.0\npre_alarm_trip_v = 2.9\n", "rejected: the pre-alarm must trip above "
                                                                          "the under-voltage trip; nothing was sent"),
            ("[settings]\nwarp_drive = 1\n", "bad.toml: unknown setting 'warp_drive'; nothing was sent"),
            ("[settings\n", "bad.toml is not valid TOML: "),
            ("model = \"x\"\n", "bad.toml has no [settings] table with settings in it"),
            ("[setings]\na = 1\n", "bad.toml: unknown key setings (a settings file has a [settings] table)")):
        bad.write_text(body)
        for args in (("settings", "check", str(bad)), ("settings", "import", "--port", "/dev/ttyNOPE9", str(bad))):
            code, _, err = run(*args)
            assert code == 2 and want in one_line(err), (body, err)
    code, _, err = run("settings", "check", str(tmp_path / "missing.toml"))
    assert code == 2 and one_line(err).startswith("bmsctl: no settings file")


def test_models_lists_every_profile_with_the_boards_that_fit():
    code, out, _ = run("models")
    assert code == 0
    lines = dict((line.split()[0], line) for line in out.splitlines())
    assert lines["lynx_smart_bms"].endswith("boards: esp32-devkitc-lynx")
    assert "esp32-devkitc" in lines["smart_bms_12_200"] and "esp32-c3-devkitm-1" not in lines["smart_bms_12_200"]
    assert "esp32-c3-devkitm-1" in lines["smallbms_ng"]


def test_sim_and_plot_mistakes_are_one_line(tmp_path):
    code, _, err = run("sim", str(tmp_path / "nope.toml"))
    assert code == 2 and one_line(err).startswith("bmsctl: no scenario file %s" % (tmp_path / "nope.toml"))
    code, _, err = run("plot", str(tmp_path / "nope.jsonl"))
    assert code == 2 and one_line(err).startswith("bmsctl: no trace file")
    bad = tmp_path / "bad.toml"
    bad.write_text('duration_s = 10\n[settings]\ncell_uv_trip_v = 9.0\n')
    code, _, err = run("sim", str(bad))
    assert code == 2 and one_line(err) == ("scenario error: %s: [settings]: cell_uv_trip_v must be within 2.6..3.0 V, "
                                           "not 9.0" % bad)


def test_bluetooth_without_an_adapter_is_one_line():
    code, _, err = run("ble")
    assert code == 2 and one_line(err).startswith("bmsctl: bmsctl ble: say what: live ADDRESS")


def test_an_esptool_failure_ends_in_one_bmsctl_line(tmp_path):
    good = _image(tmp_path / "esp32.bin", "esp32")
    code, out, err = run("flash", "--port", os.devnull, "--firmware", good)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("bmsctl: esptool failed: ")
    assert out.startswith("$ esptool --chip esp32 --port %s erase-flash" % os.devnull)


def test_the_esptool_logger_draws_progress_and_keeps_the_last_error():
    from host_tools.progress import EsptoolLogger
    log = EsptoolLogger()
    for i in range(0, 101, 10):
        log.progress_bar(i, 100, prefix="Writing")
    log.error("A fatal error occurred: Failed to connect\nmore")
    log.close()
    assert log.last_error == "A fatal error occurred: Failed to connect"
