"""bmsctl: the BMS's command line, one entry point with subcommands.

    bmsctl sim [SCENARIO] [--trace F] [--plot PNG]   run the firmware against the simulated bank
    bmsctl plot TRACE [-o PNG]                         the story of a simulated run, as a picture
    bmsctl flash --port P --firmware F [--board B]    erase the chip and write MicroPython
    bmsctl deploy --port P [--board B] [--tool ampy]  copy the firmware bundle and board file
    bmsctl update --port P [--board B]  a safe update: staged, checked, switched, rolled back if it fails
    bmsctl reset --port P / bmsctl repl --port P      start the BMS / the board's REPL
    bmsctl diag --port P [COMMAND]                     a diag command (status, history, set(...))
    bmsctl settings get|set|export|import|check ...   settings, to and from TOML files
    bmsctl scan --key K / bmsctl ble ...              Bluetooth: Instant Readout, GATT
    bmsctl models                                      the model profiles and the boards that fit
    bmsctl vboard                                      a virtual board for mpremote (no hardware)

``bmsctl COMMAND --help`` explains each. A mistake (a missing port, a file that
is not a firmware image, a bad scenario or setting) prints one line saying what
is wrong and what to type, and exits with status 2; a scenario whose
expectations fail exits 1.
"""
import argparse
import os
import sys

import host_tools
from host_tools.board_cmds import DEFAULT_BOARD, UserError

USAGE_ERROR = 2
DEFAULT_SCENARIO = os.path.join(host_tools.ROOT, "host_tools", "scenarios", "default.toml")


class _Parser(argparse.ArgumentParser):
    # argparse's own errors as one line, with the same status as bmsctl's.
    def error(self, message):
        raise UserError("%s: %s (see: %s --help)" % (self.prog, message, self.prog))


def _parser():
    ap = _Parser(prog="bmsctl", description=__doc__.split("\n\n")[0],
                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    p = sub.add_parser("sim", help="run a scenario (default: the default one) against the firmware")
    p.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO, help="scenario TOML (docs/scenarios.md)")
    p.add_argument("--trace", help="JSONL trace (default build/sim/<scenario>.jsonl)")
    p.add_argument("--plot", help="also draw the run to this PNG")
    p.add_argument("--interpreter", choices=("cpython", "micropython"), default="cpython")
    p.add_argument("--live", choices=("auto", "yes", "no"), default="auto", help="the live status table")

    p = sub.add_parser("plot", help="draw a simulator trace to a PNG (matplotlib)")
    p.add_argument("trace", help="a trace written by bmsctl sim (JSONL)")
    p.add_argument("-o", "--output", help="PNG path (default: the trace's with .png)")

    def port(p, what):
        p.add_argument("--port", default=os.environ.get("PORT", ""),
                       help="serial port of the board %s, e.g. /dev/ttyUSB0 (or $PORT)" % what)

    p = sub.add_parser("flash", help="erase the chip and write MicroPython (esptool), after checking the file")
    port(p, "to flash")
    p.add_argument("--firmware", default="", help="MicroPython .bin for the board's chip (micropython.org/download)")
    p.add_argument("--board", default=DEFAULT_BOARD, help="board file name under boards/")
    p.add_argument("--dry-run", action="store_true", help="check and print, change nothing")

    p = sub.add_parser("deploy", help="copy the .mpy bundle and the board file to the board")
    port(p, "to deploy to")
    p.add_argument("--board", default=DEFAULT_BOARD, help="board file name under boards/")
    p.add_argument("--tool", choices=("mpremote", "ampy"), default="mpremote",
                   help="ampy (adafruit-ampy) for boards where mpremote's raw-paste mode misbehaves")
    p.add_argument("--dest", default="/", help="folder for the modules (default the root)")
    p.add_argument("--no-mip", action="store_true", help="skip 'mip install aioble' (no network on the board)")
    p.add_argument("--sources", action="store_true", help="copy firmware/*.py instead of the .mpy bundle")
    p.add_argument("--dry-run", action="store_true", help="list what would be copied")

    p = sub.add_parser("update", help="a safe update: stage the bundle in the other slot, check it, switch, "
                                      "reset; it rolls back by itself if it does not run (docs/update.md)")
    port(p, "to update")
    p.add_argument("--board", default=DEFAULT_BOARD, help="board file name under boards/")
    p.add_argument("--sources", action="store_true", help="firmware/*.py instead of the .mpy bundle")
    p.add_argument("--version", default=None, help="the version to record (default: the package's + the bundle's hash)")
    p.add_argument("--no-reset", action="store_true", help="switch, but let the next reset start it")

    for name, text in (("repl", "the board's REPL (mpremote; Ctrl-] leaves it)"),
                       ("reset", "reset the board: it boots and starts the BMS")):
        port(sub.add_parser(name, help=text), "")

    p = sub.add_parser("diag", help="run a diag command on the board, e.g. status, history, 'set(\"x\", 1)'")
    port(p, "")
    p.add_argument("command", nargs="?", default="status", help="a diag function, with its arguments if any")

    p = sub.add_parser("settings", help="read, change, export to and import from TOML")
    ss = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    for name, text in (("get", "print settings (one, or all)"), ("set", "change one setting"),
                       ("export", "write the board's settings (or the defaults) to a TOML file"),
                       ("import", "check a TOML file, then send it to the board as one change"),
                       ("check", "check a TOML file against the firmware's rules, without a board")):
        q = ss.add_parser(name, help=text)
        if name != "check":
            port(q, "")
        if name in ("get", "set"):
            q.add_argument("name", nargs="?" if name == "get" else None)
        if name == "set":
            q.add_argument("value")
        if name in ("export", "import", "check"):
            q.add_argument("file")
        if name == "export":
            q.add_argument("--defaults", action="store_true", help="the firmware's defaults, no board needed")
            q.add_argument("--model", help="with --defaults: only the settings this model has")

    p = sub.add_parser("scan", help="decode the Instant Readout of boards in Bluetooth range")
    p.add_argument("--key", required=True, help="the advertisement key (diag.ble() shows it)")
    p.add_argument("--seconds", type=float, default=10)
    p = sub.add_parser("ble", help="GATT commands: live, get, set, switch (python -m host_tools.ble_tool)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="live ADDRESS | get ADDRESS [SETTING] | ...")

    sub.add_parser("models", help="the model profiles and which board files fit each")
    p = sub.add_parser("vboard", help="start a virtual board (MicroPython behind a pty) for mpremote")
    p.add_argument("--fs", help="host folder that keeps its files across runs (default build/vboard/flash)")
    p.add_argument("--fresh", action="store_true", help="start with an empty filesystem")
    return ap


def main(argv=None):
    try:
        args = _parser().parse_args(argv)
        return _run(args)
    except UserError as e:
        print("bmsctl: %s" % e, file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("bmsctl: interrupted", file=sys.stderr)
        return 130


def _run(a):
    from host_tools import board_cmds as B
    if a.cmd == "sim":
        return _sim(a)
    if a.cmd == "plot":
        return _plot(a.trace, a.output)
    if a.cmd == "flash":
        B.flash(a.port, a.firmware, a.board, a.dry_run)
    elif a.cmd == "deploy":
        B.deploy(a.port, a.board, a.dest, a.tool, not a.no_mip, a.sources, a.dry_run)
    elif a.cmd == "update":
        from host_tools import update_cmds
        update_cmds.update(a.port, a.board, a.sources, a.version, not a.no_reset)
    elif a.cmd == "repl":
        B.repl(a.port)
    elif a.cmd == "reset":
        B.reset(a.port)
    elif a.cmd == "diag":
        sys.stdout.write(B.diag(a.port, a.command))
    elif a.cmd == "settings":
        from host_tools import settings_cmds
        return settings_cmds.run(a)
    elif a.cmd in ("scan", "ble"):
        return _ble(a)
    elif a.cmd == "models":
        _models()
    elif a.cmd == "vboard":
        from host_tools import vboard
        return vboard.main((["--fs", a.fs] if a.fs else []) + (["--fresh"] if a.fresh else []))
    return 0


def _sim(a):
    from host_tools.sim import console
    if not os.path.isfile(a.scenario):
        raise UserError("no scenario file %s (examples: host_tools/scenarios/, tests/scenarios/)" % a.scenario)
    trace = a.trace or os.path.join(host_tools.ROOT, "build", "sim",
                                    os.path.splitext(os.path.basename(a.scenario))[0] + ".jsonl")
    os.makedirs(os.path.dirname(os.path.abspath(trace)), exist_ok=True)
    # console.main checks the whole file before anything runs: "scenario error: ..." and 2.
    code = console.main([a.scenario, "--trace", trace, "--interpreter", a.interpreter, "--live", a.live])
    if code == 2:
        return code
    print("trace: %s" % os.path.relpath(trace))
    if a.plot:
        _plot(trace, a.plot)
    return code


def _plot(trace, output):
    from host_tools import plot
    if not os.path.isfile(trace):
        raise UserError("no trace file %s: write one with bmsctl sim [SCENARIO] --trace %s" % (trace, trace))
    out = output or os.path.splitext(trace)[0] + ".png"
    try:
        plot.plot(trace, out)
    except ValueError as e:
        raise UserError("cannot plot %s: %s" % (trace, e))
    print("plot: %s" % os.path.relpath(out))
    return 0


def _ble(a):
    from host_tools import ble_tool
    argv = ["scan", "--key", a.key, "--seconds", str(a.seconds)] if a.cmd == "scan" else a.args
    if not argv:
        raise UserError("bmsctl ble: say what: live ADDRESS, get ADDRESS [SETTING], set ADDRESS SETTING VALUE, "
                        "switch ADDRESS on|off")
    try:
        return ble_tool.main(argv)
    except SystemExit as e:
        return e.code
    except Exception as e:          # bleak without an adapter, D-Bus missing, ...
        raise UserError("Bluetooth: %s" % (str(e).splitlines()[0] if str(e) else type(e).__name__))


def _models():
    from host_tools import wiring
    import models as M
    boards = wiring.boards()
    for name in M.NAMES:
        fit = [stem for stem, b in boards if wiring.fits(name, b)]
        print("%-20s %-26s boards: %s" % (name, M.title(name), ", ".join(fit) or "none yet (docs/wiring.md)"))


if __name__ == "__main__":
    sys.exit(main())
