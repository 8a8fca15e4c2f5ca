"""A virtual board (MicroPython behind a pty): deploy with mpremote, reach diag."""
import subprocess
import sys
import threading
import time

import pytest

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
    assert "load disconnect (ATD)    ON" in out and "codes: none" in out
    mpremote(port, "resume", "exec", "import diag; diag.soft_switch(False)")     # through the inbox
    time.sleep(1.0)
    out = mpremote(port, "resume", "exec", "import diag; diag.status()")
    assert "soft switch off" in out and "(remote-off)" in out
    mpremote(port, "resume", "exec", "import vboard_rt; vboard_rt.set_cells(3300, 2500, 3300, 3300)")
    time.sleep(2.5)
    out = mpremote(port, "resume", "exec", "import diag; diag.status()")
    assert "W-B01" in out and "pre-alarm                ON   (W-B01)" in out
