"""A virtual board: MicroPython with the BMS behind a pseudo-terminal.

``python -m host_tools.vboard`` (``make vboard``) prints the device path, e.g.
``/dev/pts/5``; then, with no hardware:

    mpremote connect /dev/pts/5 fs cp firmware/*.py :            # deploy
    mpremote connect /dev/pts/5 fs cp boards/esp32-devkitc.json :board.json
    mpremote connect /dev/pts/5 exec "import vboard_rt; vboard_rt.start()"
    mpremote connect /dev/pts/5 resume exec "import diag; diag.status()"

Its ``machine`` is the pin mock, its link UART is answered by one simulated
battery and its ``bluetooth`` is the host's mock radio with simulated phones
(``host_tools/mpy/vboard_lib/vboard_rt.py``: ``vboard_rt.phones(2)``). Ctrl-C stops it.
"""
import os
import select
import subprocess
import sys
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
MPY_DIR = os.path.join(HERE, "mpy")


class VirtualBoard:
    """Start with ``start()``; ``path`` is the pty to connect to; ``stop()`` ends it."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        preload = [os.path.join(HERE, "pin_mock.py") + ":machine.py",
                   os.path.join(MPY_DIR, "mp_ring.py") + ":mp_ring.py",
                   os.path.join(MPY_DIR, "vboard_lib", "vboard_rt.py") + ":vboard_rt.py",
                   os.path.join(HERE, "ble_mock.py") + ":bluetooth.py",
                   os.path.join(MPY_DIR, "mp_cryptolib.py") + ":cryptolib.py"]
        self.proc = subprocess.Popen(["node", os.path.join(MPY_DIR, "vboard.mjs")] + preload, cwd=MPY_DIR,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)

    def pump(self, timeout=0.05):
        """Move bytes both ways once; return False when the board process ended."""
        r, _, _ = select.select([self.master, self.proc.stdout], [], [], timeout)
        if self.master in r:
            data = os.read(self.master, 4096)
            if data:
                self.proc.stdin.write(data)
        if self.proc.stdout in r:
            data = os.read(self.proc.stdout.fileno(), 4096)
            if not data:
                return False
            os.write(self.master, data)
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        os.close(self.master)
        os.close(self.slave)


def main():
    vb = VirtualBoard()
    print(vb.path, flush=True)
    print("virtual board running; connect with: mpremote connect %s   (Ctrl-C here stops it)" % vb.path,
          file=sys.stderr, flush=True)
    try:
        while vb.pump(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        vb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
