"""Type-check firmware/ against the ESP32 MicroPython stubs with pyright.

``python -m host_tools.typecheck.run [paths…]``: installs the pinned stubs into
``build/typings`` once (offline afterwards) and runs the pinned pyright from
``host_tools/mpy/node_modules``. Exit status is pyright's.
"""
import os
import subprocess
import sys

import host_tools

HERE = os.path.dirname(os.path.abspath(__file__))
TYPINGS = os.path.join(host_tools.ROOT, "build", "typings")
PYRIGHT = os.path.join(host_tools.ROOT, "host_tools", "mpy", "node_modules", ".bin", "pyright")
CONFIG = os.path.join(HERE, "pyrightconfig.json")


def ensure_stubs():
    stamp = os.path.join(TYPINGS, ".installed")
    req = os.path.join(HERE, "requirements.txt")
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(req):
        return
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--target", TYPINGS, "--upgrade", "-r", req], check=True)
    open(stamp, "w").close()


def check(paths=()):
    """Run pyright; return (exit code, output)."""
    ensure_stubs()
    cmd = [PYRIGHT, "-p", CONFIG] + list(paths)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def main(argv=None):
    code, out = check(sys.argv[1:] if argv is None else argv)
    print(out)
    return code


if __name__ == "__main__":
    sys.exit(main())
