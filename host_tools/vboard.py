"""A virtual board: MicroPython with the BMS behind a pseudo-terminal.

``bmsctl vboard`` (``make vboard``) prints the device path, e.g. ``/dev/pts/5``,
and the commands to try; docs/vboard.md has them all. It behaves like a board:
- its REPL ends lines in \r\n;
- its filesystem is kept across resets, and across runs in ``build/vboard/flash``;
- a reset (``mpremote reset``, Ctrl-D at the prompt) starts the deployed BMS as
  ``main.py`` would;
- its pins are the deployed board file's.

Its ``machine`` is the pin mock, its link UART is answered by a simulated
bank that the host can change while it runs (``vboard_rt.set_cells``,
``unplug``, ``bit_errors``, ... in ``host_tools/mpy/vboard_lib/vboard_rt.py``),
and its ``bluetooth`` is the host's mock radio with simulated phones
(``vboard_rt.phones(2)``). Ctrl-C stops it.
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

    def __init__(self, fs_dir=None):
        """``fs_dir``: a host folder that keeps the board's filesystem across runs
        (None: a fresh, empty board)."""
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        preload = [os.path.join(HERE, "pin_mock.py") + ":machine.py",
                   os.path.join(MPY_DIR, "mp_ring.py") + ":mp_ring.py",
                   os.path.join(MPY_DIR, "vboard_lib", "vboard_rt.py") + ":vboard_rt.py",
                   os.path.join(HERE, "ble_mock.py") + ":bluetooth.py",
                   os.path.join(MPY_DIR, "mp_cryptolib.py") + ":cryptolib.py"]
        env = dict(os.environ, VBOARD_FS=os.path.abspath(fs_dir) if fs_dir else "")
        self.proc = subprocess.Popen(["node", os.path.join(MPY_DIR, "vboard.mjs")] + preload, cwd=MPY_DIR,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=env)

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


HELP = """virtual board running on {p}   (Ctrl-C here stops it; its files stay in {fs})
  deploy:   .venv/bin/bmsctl deploy --port {p} --dest :/lib/ --no-mip --sources
  start:    .venv/bin/bmsctl reset --port {p}           (as a board's reset: main.py starts the BMS)
  look:     .venv/bin/bmsctl diag --port {p} status
  change:   .venv/bin/python -m mpremote connect {p} resume exec "import vboard_rt; vboard_rt.set_cells(3300, 2900, 3300, 3300)"
  REPL:     .venv/bin/bmsctl repl --port {p}            (docs/vboard.md: every command)"""


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="bmsctl vboard", description="a virtual board for mpremote (docs/vboard.md)")
    ap.add_argument("--fs", default=os.path.join(os.path.dirname(HERE), "build", "vboard", "flash"),
                    help="host folder that keeps the board's files across runs (default build/vboard/flash)")
    ap.add_argument("--fresh", action="store_true", help="start with an empty filesystem (the folder is kept)")
    a = ap.parse_args(argv)
    if a.fresh and os.path.isdir(a.fs):
        import shutil
        shutil.rmtree(a.fs)
    vb = VirtualBoard(a.fs)
    print(vb.path, flush=True)
    print(HELP.format(p=vb.path, fs=os.path.relpath(a.fs)), file=sys.stderr, flush=True)
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
