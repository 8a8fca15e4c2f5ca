"""A virtual board (MicroPython behind a pty): deploy with mpremote, reach diag."""
import os
import subprocess
import sys
import threading
import time

import pytest

import host_tools
from host_tools import mpy_bridge
from host_tools.vboard import VirtualBoard


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


def mpremote(port, *args, timeout=60):
    proc = subprocess.run([sys.executable, "-m", "mpremote", "connect", port] + list(args),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_deploy_and_reach_diag_through_mpremote(vboard):
    port = vboard.path
    deploy = subprocess.run([sys.executable, "-m", "host_tools.board_tool", "deploy", "--port", port,
                             "--dest", ":/lib/", "--no-mip", "--sources"],
                            capture_output=True, text=True, timeout=180)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    listing = mpremote(port, "fs", "ls", ":/lib")
    for name in ("main.py", "link.py", "bms.py", "diagnosis.py", "qualifier.py", "status.py", "inbox.py", "diag.py"):
        assert name in listing
    assert "micropython" in mpremote(port, "exec", "import sys; print(sys.implementation.name)")
    mpremote(port, "exec", "import vboard_rt; vboard_rt.start()")
    time.sleep(1.5)
    out = mpremote(port, "resume", "exec", "import diag; diag.status()")
    assert "control loop running" in out
    assert "1 of 1 batteries answered (1 series x 1 parallel)" in out and "VBOARD0001" in out
    # A fresh board has no settings file yet: the defaults and E-B31 (docs/persistence.md).
    assert "load disconnect (ATD)    ON" in out and "E-B31" in out
    mpremote(port, "resume", "exec", "import diag; diag.soft_switch(False)")     # through the inbox
    time.sleep(1.0)
    out = mpremote(port, "resume", "exec", "import diag; diag.status()")
    assert "soft switch off" in out and "(remote-off)" in out
    mpremote(port, "resume", "exec", "import vboard_rt; vboard_rt.set_cells(3300, 2500, 3300, 3300)")
    time.sleep(2.5)
    out = mpremote(port, "resume", "exec", "import diag; diag.status()")
    assert "W-B01" in out and "pre-alarm                ON   (W-B01)" in out


# ----- the virtual board behaves like a board (issue 11) ----------------------
BMSCTL = os.path.join(os.path.dirname(sys.executable), "bmsctl")


def _start(fs_dir):
    vb = VirtualBoard(fs_dir)
    stop = threading.Event()

    def pump():
        while not stop.is_set() and vb.pump(0.02):
            pass
    t = threading.Thread(target=pump, daemon=True)
    t.start()
    time.sleep(1.0)

    def close():
        stop.set()
        t.join(2)
        vb.stop()
    return vb, close


def bmsctl(*args):
    p = subprocess.run([BMSCTL] + list(args), capture_output=True, text=True, timeout=240, cwd=host_tools.ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def resume(port, code):
    return mpremote(port, "resume", "exec", code)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """One virtual board with the firmware deployed and reset (the BMS runs)."""
    if not mpy_bridge.available():
        pytest.fail("MicroPython (WebAssembly) is not installed: run `make test`")
    fs = tmp_path_factory.mktemp("vboard") / "flash"
    vb, close = _start(str(fs))
    bmsctl("deploy", "--port", vb.path, "--dest", ":/lib/", "--no-mip", "--sources")
    bmsctl("reset", "--port", vb.path)
    time.sleep(1.5)
    yield vb, fs
    close()


def test_a_reset_starts_the_bms_as_main_py_would(deployed):
    vb, _ = deployed
    out = bmsctl("diag", "--port", vb.path, "status")
    assert "control loop running" in out and "1 of 1 batteries answered" in out and "VBOARD0001" in out


def test_repl_lines_end_in_crlf(deployed):
    import serial
    vb, _ = deployed
    with serial.Serial(vb.path, 115200, timeout=0.3) as s:
        s.write(b"\r\x02")                              # Ctrl-B: the friendly REPL
        time.sleep(0.5)
        s.read(4096)
        s.write(b"print('one'); print('two')\r")
        time.sleep(0.8)
        got = s.read(4096)
    assert b"one\r\ntwo\r\n" in got
    assert b"\n" not in got.replace(b"\r\n", b"")       # no bare line feed: no staircase


def test_files_copy_byte_exact_both_ways(deployed, tmp_path):
    vb, _ = deployed
    data = b"line\nwin\r\nbin\x00\xff\x1b[0m" + bytes(range(256))
    src = tmp_path / "mixed.bin"
    src.write_bytes(data)
    mpremote(vb.path, "resume", "fs", "cp", str(src), ":mixed.bin")
    back = tmp_path / "back.bin"
    mpremote(vb.path, "resume", "fs", "cp", ":mixed.bin", str(back))
    assert back.read_bytes() == data


def test_the_host_changes_the_battery_cells_and_faults_while_it_runs(deployed):
    vb, _ = deployed
    p = vb.path
    resume(p, "import vboard_rt; vboard_rt.set_batteries(3); vboard_rt.set_temperature(30.5)")
    time.sleep(2.0)
    out = bmsctl("diag", "--port", p, "status")
    assert "3 of 3 batteries answered (1 series x 3 parallel)" in out and "VBOARD0003" in out and "30.5" in out
    resume(p, "import vboard_rt; vboard_rt.battery_fault(2)")
    time.sleep(1.5)
    assert "E-B11" in bmsctl("diag", "--port", p, "status")
    resume(p, "import vboard_rt; vboard_rt.battery_fault(2, False); vboard_rt.bit_errors(3)")
    time.sleep(2.0)
    link = [line for line in bmsctl("diag", "--port", p, "status").splitlines() if line.startswith("link:")][0]
    assert "crc" in link
    resume(p, "import vboard_rt; vboard_rt.bit_errors(0); vboard_rt.remote(False)")
    time.sleep(1.5)
    assert "remote: terminal off" in bmsctl("diag", "--port", p, "status")
    resume(p, "import vboard_rt; vboard_rt.remote(True); vboard_rt.unplug()")
    time.sleep(4.5)
    assert "W-B05" in bmsctl("diag", "--port", p, "status")
    resume(p, "import vboard_rt; vboard_rt.plug(); vboard_rt.set_batteries(1)")
    world = resume(p, "import vboard_rt; print(vboard_rt.world())")
    assert "'answering': True" in world and "'batteries': 1" in world


def test_settings_and_history_survive_a_reset_and_a_restart(deployed, tmp_path):
    import shutil
    vb, fs = deployed
    out = bmsctl("diag", "--port", vb.path, 'set("cell_uv_trip_v", 2.9)')
    assert out.startswith("cell_uv_trip_v: 2.8 -> 2.9 V")
    time.sleep(11)                                       # saved within 10 s (docs/persistence.md)
    bmsctl("reset", "--port", vb.path)
    time.sleep(1.5)
    assert bmsctl("settings", "get", "--port", vb.path, "cell_uv_trip_v").split() == ["cell_uv_trip_v", "2.9"]
    # The board's flash, on another run of the virtual board.
    copy = tmp_path / "flash"
    bmsctl("reset", "--port", vb.path)                   # a reset writes the filesystem to the host folder
    time.sleep(1.0)
    shutil.copytree(fs, copy)
    vb2, close = _start(str(copy))
    try:
        assert bmsctl("settings", "get", "--port", vb2.path, "cell_uv_trip_v").split() == ["cell_uv_trip_v", "2.9"]
        assert "history (since it was last cleared):" in bmsctl("diag", "--port", vb2.path, "history")
    finally:
        close()


def test_its_pins_come_from_the_board_file(deployed, tmp_path):
    vb, _ = deployed
    mpremote(vb.path, "resume", "fs", "cp", host_tools.board_path("esp32-c3-devkitm-1"), ":board.json")
    bmsctl("reset", "--port", vb.path)
    time.sleep(1.5)
    out = bmsctl("diag", "--port", vb.path, "status")
    assert "1 of 1 batteries answered" in out                # the ring on UART 1, the C3's
    assert "alternator port" not in out or "off" in out
    assert resume(vb.path, "import bms; print(bms.running.profile, bms.running.hw.board['link_uart']['id'])"
                  ).split() == ["smallbms_ng", "1"]


def _slots_when(port, done, tries=40):
    """The board's slots.json once ``done(doc)`` holds (it resets meanwhile), or the last one read."""
    from host_tools import board_cmds, update_cmds
    doc = None
    for _ in range(tries):
        time.sleep(0.5)
        try:
            doc = update_cmds.slots(port)
        except board_cmds.UserError:
            continue                 # resetting: no answer yet
        if doc and done(doc):
            break
    return doc


def test_a_safe_update_over_usb_switches_confirms_and_a_broken_one_rolls_back(tmp_path):
    """bmsctl update against the virtual board (docs/update.md): the BMS keeps
    running while the bundle is staged; the board resets into the new slot,
    which confirms itself at its first healthy tick. A bundle whose main.py
    raises on import is rolled back at once, and the BMS runs the version
    before."""
    from host_tools import board_cmds, update_cmds
    vb, close = _start(str(tmp_path / "flash"))
    try:
        port = vb.path
        # A board with only the loader on it (what stays at the root: docs/update.md);
        # its first application comes as an update.
        loader_set = [os.path.join(host_tools.FIRMWARE_DIR, n + ".py")
                      for n in ("loader", "update", "store", "hw", "board", "ntc")]
        mpremote(port, "fs", "cp", *(loader_set + [":/lib/"]))
        out = bmsctl("update", "--port", port, "--sources", "--version", "2.0")
        assert "update 2.0 staged in app_a, checked" in out and "switched to on trial" in out
        doc = _slots_when(port, lambda d: not d["trial"])
        assert doc["active"] == "app_a" and doc["version"] == "2.0" and doc["trial"] == 0, doc
        status = bmsctl("diag", "--port", port, "status")
        assert "control loop running" in status and "VBOARD0001" in status
        assert "/app_a" in resume(port, "import sys; print(sys.path)")
        # A broken bundle: its main.py raises on import (a module it needs is not there).
        broken = tmp_path / "main.py"
        broken.write_text("import bms_v3_core\n")
        real = board_cmds.bundle_files

        def files(board, sources):
            arch, fl = real(board, sources)
            return arch, [(str(broken), "main.py")] + [(src, name) for src, name in fl if name == "board.json"]
        update_cmds.bundle_files = files
        try:
            update_cmds.update(port, sources=True, version="3.0-broken", echo=lambda *a: None)
        finally:
            update_cmds.bundle_files = real
        doc = _slots_when(port, lambda d: d.get("rolled_back"))
        assert doc["active"] == "app_a" and doc["version"] == "2.0" and not doc["trial"], doc
        assert doc["rolled_back"]["version"] == "3.0-broken" and "ImportError" in doc["rolled_back"]["why"]
        time.sleep(1.5)
        assert "control loop running" in bmsctl("diag", "--port", port, "status")
    finally:
        close()
