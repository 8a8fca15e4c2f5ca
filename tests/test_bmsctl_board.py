"""bmsctl against a board: the virtual board (MicroPython behind a pty), reached
through mpremote's transport and adafruit-ampy exactly as a USB board is."""
import os
import subprocess
import sys
import threading
import time

import pytest

import host_tools
from host_tools import mpy_bridge
from host_tools.vboard import VirtualBoard

BMSCTL = os.path.join(os.path.dirname(sys.executable), "bmsctl")


@pytest.fixture
def vboard():
    if not mpy_bridge.available():
        pytest.fail("MicroPython (WebAssembly) is not installed: run `make test`")
    vb = VirtualBoard()
    stop = threading.Event()

    def pump():
        while not stop.is_set() and vb.pump(0.02):
            pass
    t = threading.Thread(target=pump, daemon=True)
    t.start()
    time.sleep(1.0)
    yield vb
    stop.set()
    t.join(2)
    vb.stop()


def bmsctl(*args, ok=True):
    p = subprocess.run([BMSCTL] + list(args), capture_output=True, text=True, timeout=240, cwd=host_tools.ROOT)
    if ok:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


def mpremote(port, *args):
    p = subprocess.run([sys.executable, "-m", "mpremote", "connect", port] + list(args), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_deploy_then_diag_and_settings_round_trip(vboard, tmp_path):
    port = vboard.path
    out = bmsctl("deploy", "--port", port, "--dest", ":/lib/", "--no-mip", "--sources").stdout
    assert out.startswith("deployed ") and "files (" in out
    listing = mpremote(port, "fs", "ls", ":/lib")
    for name in ("main.py", "models.py", "bms.py", "diag.py"):
        assert name in listing
    assert '"model": "smart_bms_12_200"' in mpremote(port, "fs", "cat", ":board.json")
    mpremote(port, "exec", "import vboard_rt; vboard_rt.start()")
    time.sleep(1.5)
    status = bmsctl("diag", "--port", port, "status").stdout
    assert "control loop running" in status and "VBOARD0001" in status
    f = tmp_path / "van.toml"
    bmsctl("settings", "export", "--port", port, str(f))
    text = f.read_text()
    assert 'model = "smart_bms_12_200"' in text and "cell_uv_trip_v = 2.8" in text
    f.write_text(text.replace("cell_uv_trip_v = 2.8", "cell_uv_trip_v = 2.9").replace(
        'pre_alarm_mode = "continuous"', 'pre_alarm_mode = "intermittent"'))
    out = bmsctl("settings", "import", "--port", port, str(f)).stdout
    assert out.strip().endswith("settings changed (saved to flash within 10 s)")
    time.sleep(0.5)
    got = bmsctl("settings", "get", "--port", port, "cell_uv_trip_v").stdout.split()
    assert got == ["cell_uv_trip_v", "2.9"]
    assert bmsctl("settings", "get", "--port", port, "pre_alarm_mode").stdout.split()[1] == "intermittent"
    # The board refuses what it cannot be, and nothing changes.
    p = bmsctl("settings", "set", "--port", port, "model", "lynx_smart_bms", ok=False)
    assert p.returncode == 1 and "needs outputs contactor, aux_output, alternator_atc" in p.stdout
    assert bmsctl("settings", "get", "--port", port, "model").stdout.split()[1] == "board"
    p = bmsctl("diag", "--port", port, "no_such_command", ok=False)
    assert p.returncode == 2 and p.stderr.startswith("bmsctl: on the board: AttributeError")


def test_the_ampy_tool_copies_files_byte_exact(vboard, tmp_path):
    # ampy writes slowly (a whole bundle takes minutes here): three files, one binary.
    from host_tools import board_cmds
    files = {"a.py": b"print('a')\r\nx = 1\n", "b.bin": bytes(range(256)) * 3, "board.json": b'{"x": 1}'}
    copies = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        copies.append((str(tmp_path / name), "/lib/" + name))
    sent = []
    board_cmds._put_ampy(vboard.path, copies, "/lib", sent.append)
    assert sum(sent) == sum(len(d) for d in files.values())
    for name, data in files.items():
        back = tmp_path / ("back_" + name)
        mpremote(vboard.path, "fs", "cp", ":/lib/" + name, str(back))
        assert back.read_bytes() == data, name
