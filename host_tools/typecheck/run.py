"""Type-check firmware/ against the ESP32 MicroPython stubs with pyright.

``python -m host_tools.typecheck.run [paths…]``: installs the pinned stubs into
``build/typings`` once (offline afterwards; 1.29's into ``build/typings-1.29``) and runs the pinned pyright from
``host_tools/mpy/node_modules``. Exit status is pyright's.
"""
import fcntl
import json
import os
import subprocess
import sys

import host_tools

HERE = os.path.dirname(os.path.abspath(__file__))
TYPINGS = os.path.join(host_tools.ROOT, "build", "typings")
# The stubs per MicroPython release: the minimum (1.27) and the newest (1.29).
REQUIREMENTS = {"1.27": "requirements.txt", "1.29": "requirements-1.29.txt"}


def typings(version="1.27"):
    return TYPINGS if version == "1.27" else TYPINGS + "-" + version
PYRIGHT = os.path.join(host_tools.ROOT, "host_tools", "mpy", "node_modules", ".bin", "pyright")
CONFIG = os.path.join(HERE, "pyrightconfig.json")


def ensure_stubs(version="1.27"):
    target = typings(version)
    stamp = os.path.join(target, ".installed")
    req = os.path.join(HERE, REQUIREMENTS[version])
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # the test workers may ask at once
        if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(req):
            return
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--target", target, "--upgrade", "-r", req], check=True)
        open(stamp, "w").close()


def _config(version):
    if version == "1.27":
        return CONFIG
    # The same settings with the other release's stubs.
    with open(CONFIG) as f:
        cfg = json.load(f)
    # Paths relative to the config file, which goes into build/ (pyright wants them relative).
    stubs = os.path.basename(typings(version))
    cfg.update(include=["../firmware"], extraPaths=["../firmware"], typeshedPath=stubs, stubPath=stubs)
    path = os.path.join(host_tools.ROOT, "build", "pyrightconfig-%s.json" % version)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path


def check(paths=(), version="1.27"):
    """Run pyright against the stubs of MicroPython ``version`` (a key of
    ``REQUIREMENTS``); return (exit code, output)."""
    ensure_stubs(version)
    cmd = [PYRIGHT, "-p", _config(version)] + list(paths)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def main(argv=None):
    code, out = check(sys.argv[1:] if argv is None else argv)
    print(out)
    return code


if __name__ == "__main__":
    sys.exit(main())
