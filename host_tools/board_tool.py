"""Flash MicroPython, deploy the firmware, open the REPL: ``make flash|deploy|repl``.

``python -m host_tools.board_tool flash --port P --firmware F [--board B]``
    esptool 5: ``erase-flash``, then ``write-flash`` at the chip's offset
    (0x1000 for the ESP32, 0x0 for the ESP32-S3 and -C3; Espressif's bootloader
    layout, as in MicroPython's download page).
``python -m host_tools.board_tool deploy --port P [--board B]``
    ``make build``'s .mpy bundle for the board's architecture, ``main.py``,
    ``boot.py`` and the board file as ``board.json``, copied with mpremote; then
    ``mip install aioble`` (Bluetooth, for later issues). Reset to start.
``python -m host_tools.board_tool repl --port P``
    mpremote's REPL: ``import diag; diag.status()``.
``--dry-run`` prints the commands instead of running them.
"""
import argparse
import glob
import json
import os
import shlex
import subprocess
import sys

import host_tools
from host_tools import build

CHIPS = {
    # chip: (esptool --chip, MicroPython firmware offset, mpy-cross -march)
    "esp32": ("esp32", "0x1000", "xtensawin"),
    "esp32s3": ("esp32s3", "0x0", "xtensawin"),
    "esp32c3": ("esp32c3", "0x0", "rv32imc"),
}
DEFAULT_BOARD = "esp32-devkitc"


def board_info(name):
    path = host_tools.board_path(name)
    if not os.path.exists(path):
        names = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(host_tools.BOARDS_DIR, "*.json")))
        raise SystemExit("no board '%s' (boards: %s)" % (name, ", ".join(names)))
    chip = json.load(open(path))["chip"]
    return path, chip, CHIPS[chip]


def flash_commands(port, firmware, board=DEFAULT_BOARD):
    _, _, (esp_chip, offset, _) = board_info(board)
    esptool = [sys.executable, "-m", "esptool", "--chip", esp_chip, "--port", port]
    return [esptool + ["erase-flash"],
            esptool + ["--baud", "460800", "write-flash", offset, firmware]]


def deploy_commands(port, board=DEFAULT_BOARD, bundle_dir=None, dest=":", mip=True, sources=False):
    """The mpremote commands that deploy to ``port``: (arch, bundle folder, [argv]).

    ``sources``: copy ``firmware/*.py`` instead of the .mpy bundle (for the virtual
    board, whose WebAssembly interpreter has no Xtensa/RISC-V code loader).
    """
    path, _, (_, _, arch) = board_info(board)
    if sources:
        bundle_dir = host_tools.FIRMWARE_DIR
    bundle_dir = bundle_dir or os.path.join(host_tools.ROOT, "build", "mpy", arch)
    files = sorted(glob.glob(os.path.join(bundle_dir, "*.mpy")) + glob.glob(os.path.join(bundle_dir, "*.py")))
    mpremote = [sys.executable, "-m", "mpremote", "connect", port]
    cmds = [mpremote + ["fs", "cp"] + files + [dest],
            mpremote + ["fs", "cp", path, ":board.json"]]
    if mip:
        cmds.append(mpremote + ["mip", "install", "aioble"])
    return arch, bundle_dir, cmds


def repl_command(port):
    return [sys.executable, "-m", "mpremote", "connect", port, "repl"]


def _run(cmds, dry):
    for c in cmds:
        print("$ " + " ".join(shlex.quote(x) for x in c))
        if not dry:
            subprocess.run(c, check=True)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.board_tool", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("flash", "deploy", "repl"):
        p = sub.add_parser(name)
        p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0 (or a virtual board's /dev/pts/N)")
        p.add_argument("--dry-run", action="store_true")
        if name != "repl":
            p.add_argument("--board", default=DEFAULT_BOARD, help="board file name under boards/")
        if name == "deploy":
            p.add_argument("--dest", default=":", help="where the modules go (default the root, ':')")
            p.add_argument("--no-mip", action="store_true", help="skip 'mip install aioble' (no network)")
            p.add_argument("--sources", action="store_true", help="copy firmware/*.py, not the .mpy bundle")
        if name == "flash":
            p.add_argument("--firmware", required=True, help="MicroPython .bin for the chip (micropython.org/download)")
    args = ap.parse_args(argv)
    if args.cmd == "flash":
        if not args.dry_run and not os.path.exists(args.firmware):
            raise SystemExit("no firmware file %s" % args.firmware)
        _run(flash_commands(args.port, args.firmware, args.board), args.dry_run)
    elif args.cmd == "deploy":
        arch, bundle, cmds = deploy_commands(args.port, args.board, dest=args.dest, mip=not args.no_mip,
                                             sources=args.sources)
        if not args.dry_run and not args.sources:
            build.compile_all(arch, bundle)
        _run(cmds, args.dry_run)
        print("deployed; press the board's reset button (or mpremote reset) to start the BMS")
    else:
        _run([repl_command(args.port)], args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
