"""host_tools/board_tool.py: the flash / deploy / repl commands per chip."""
import subprocess
import sys

import pytest

from host_tools import board_tool


@pytest.mark.parametrize("board,chip,offset", [
    ("esp32-devkitc", "esp32", "0x1000"),
    ("esp32-s3-devkitc-1", "esp32s3", "0x0"),
    ("esp32-c3-devkitm-1", "esp32c3", "0x0"),
])
def test_flash_erases_then_writes_at_the_chips_offset(board, chip, offset):
    erase, write = board_tool.flash_commands("/dev/ttyUSB0", "mp.bin", board)
    assert erase[-1] == "erase-flash" and ["--chip", chip] == erase[3:5]
    assert write[-3:] == ["write-flash", offset, "mp.bin"]


@pytest.mark.parametrize("board,arch", [("esp32-devkitc", "xtensawin"), ("esp32-c3-devkitm-1", "rv32imc")])
def test_deploy_copies_the_boards_bundle_and_board_file(board, arch, tmp_path):
    (tmp_path / "link.mpy").write_bytes(b"M")
    (tmp_path / "main.py").write_text("")
    got_arch, _, cmds = board_tool.deploy_commands("/dev/ttyUSB0", board, bundle_dir=str(tmp_path))
    assert got_arch == arch
    assert cmds[0][-1] == ":" and any(a.endswith("link.mpy") for a in cmds[0])
    assert cmds[1][-1] == ":board.json" and cmds[1][-2].endswith(board + ".json")
    assert cmds[2][-3:] == ["mip", "install", "aioble"]


def test_esptool_and_mpremote_accept_the_commands():
    for argv in (["esptool", "erase-flash", "--help"], ["esptool", "write-flash", "--help"], ["mpremote", "--help"]):
        proc = subprocess.run([sys.executable, "-m"] + argv, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_unknown_board_is_named():
    with pytest.raises(SystemExit, match="no board 'nope'"):
        board_tool.flash_commands("/dev/x", "fw.bin", "nope")


def test_make_targets_dry_run():
    out = subprocess.run(["make", "-n", "flash", "PORT=/dev/ttyUSB0", "FIRMWARE=fw.bin"],
                         capture_output=True, text=True).stdout
    assert "host_tools.board_tool flash --port \"/dev/ttyUSB0\" --firmware \"fw.bin\"" in out
    proc = subprocess.run([sys.executable, "-m", "host_tools.board_tool", "flash", "--port", "/dev/ttyUSB0",
                           "--firmware", "fw.bin", "--dry-run"], capture_output=True, text=True)
    assert "write-flash 0x1000 fw.bin" in proc.stdout
