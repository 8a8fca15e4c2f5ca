"""What ``bmsctl`` does to a board on a serial port: flash, deploy, REPL,
diagnostics and settings. Each step checks the user's input first and raises
``UserError`` with one line that says what is wrong and what to type.

- Flashing: esptool (pinned), after checking that the file is an ESP image for
  the board's chip (``check_image``), so a wrong file never erases the chip.
- Deploying: mpremote's serial transport (the library behind the ``mpremote``
  command), or adafruit-ampy (``tool="ampy"``) for boards where mpremote's
  raw-paste mode misbehaves; a rich progress bar over the bytes.
- Diagnostics and settings: ``diag`` commands run in the board's raw REPL
  without a soft reset, so the BMS keeps running (mpremote's ``resume``).
"""
import glob
import json
import os
import subprocess
import sys

import host_tools

CHIPS = {
    # chip: (esptool --chip, MicroPython firmware offset, mpy-cross -march)
    "esp32": ("esp32", "0x1000", "xtensawin"),
    "esp32s3": ("esp32s3", "0x0", "xtensawin"),
    "esp32c3": ("esp32c3", "0x0", "rv32imc"),
}
DEFAULT_BOARD = "esp32-devkitc"
MARK = "@@BMSCTL@@"


class UserError(Exception):
    """A mistake the user can fix: the message is one line saying what to do."""


def board_names():
    return sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(host_tools.BOARDS_DIR, "*.json")))


def board_info(name):
    """``(path, chip, (esptool chip, offset, mpy arch))`` of board ``name``."""
    path = host_tools.board_path(name)
    if not name or not os.path.exists(path):
        raise UserError("no board '%s' (boards: %s)" % (name, ", ".join(board_names())))
    with open(path) as f:
        chip = json.load(f)["chip"]
    return path, chip, CHIPS[chip]


def serial_ports():
    """The serial ports pyserial finds here (device paths)."""
    from serial.tools import list_ports
    return sorted(p.device for p in list_ports.comports())


def check_port(port, command):
    """Raise ``UserError`` unless ``port`` names a device that exists."""
    found = ", ".join(serial_ports()) or "none found"
    if not port:
        raise UserError("no port given: make %s PORT=/dev/ttyUSB0 (serial ports here: %s)" % (command, found))
    if not port.startswith(("COM", "socket://", "rfc2217://")) and not os.path.exists(port):
        raise UserError("no serial port %s (serial ports here: %s); is the board plugged in?" % (port, found))


def check_image(path, chip):
    """Raise ``UserError`` unless ``path`` is a firmware image for ``chip``
    (the ESP image header: magic 0xE9 and the chip id of the extended header)."""
    from esptool.bin_image import LoadFirmwareImage
    from esptool.targets import CHIP_DEFS
    if not path:
        raise UserError("no firmware file given: make flash PORT=/dev/ttyUSB0 FIRMWARE=ESP32_GENERIC-20251209-v1.27.0.bin"
                        " (MicroPython's .bin for %s, from micropython.org/download)" % chip)
    if not os.path.isfile(path):
        raise UserError("no firmware file %s: download MicroPython's .bin for %s from micropython.org/download"
                        % (path, chip))
    with open(path, "rb") as f:
        head = f.read(1)
    if head != b"\xe9":
        raise UserError("%s is not an ESP32 firmware image (it starts with 0x%s, an image with 0xe9): "
                        "download MicroPython's .bin for %s from micropython.org/download; nothing was erased"
                        % (path, head.hex() or "nothing", chip))
    try:
        img = LoadFirmwareImage(chip, path)
    except Exception as e:          # esptool's FatalError, struct errors on a truncated file
        raise UserError("%s is not a valid ESP image (%s); nothing was erased" % (path, str(e).splitlines()[0]))
    want = CHIP_DEFS[chip].IMAGE_CHIP_ID
    if img.chip_id != want:
        names = [n for n, c in CHIP_DEFS.items() if getattr(c, "IMAGE_CHIP_ID", None) == img.chip_id]
        raise UserError("%s is an image for %s, but this board is an %s: download the %s .bin; nothing was erased"
                        % (path, names[0] if names else "chip id %d" % img.chip_id, chip, chip))


def flash(port, firmware, board=DEFAULT_BOARD, dry_run=False):
    """Erase the chip and write ``firmware`` at the chip's offset (esptool)."""
    _, chip, (esp_chip, offset, _) = board_info(board)
    if not dry_run:
        check_port(port, "flash")
    elif not port:
        raise UserError("no port given: make flash PORT=/dev/ttyUSB0 FIRMWARE=...bin")
    check_image(firmware, chip)
    base = ["--chip", esp_chip, "--port", port]
    steps = [base + ["erase-flash"], base + ["--baud", "460800", "write-flash", offset, firmware]]
    for argv in steps:
        print("$ esptool " + " ".join(argv))
        if dry_run:
            continue
        _esptool(argv)
    return steps


def _esptool(argv):
    import esptool
    from esptool.logger import log
    from host_tools.progress import EsptoolLogger
    logger = EsptoolLogger()
    log.set_logger(logger)
    try:
        esptool.main(argv)
    except SystemExit as e:
        if e.code:
            raise UserError("esptool failed (exit %s): %s" % (e.code, logger.last_error or "see above"))
    except Exception as e:
        raise UserError("esptool failed: %s" % str(e).splitlines()[0])
    finally:
        logger.close()


def bundle_files(board, sources=False):
    """``(arch, [(local path, board name)])`` of what ``deploy`` copies."""
    path, _, (_, _, arch) = board_info(board)
    if sources:
        folder = host_tools.FIRMWARE_DIR
        files = sorted(glob.glob(os.path.join(folder, "*.py")))
    else:
        folder = os.path.join(host_tools.ROOT, "build", "mpy", arch)
        from host_tools import build
        build.compile_all(arch, folder)
        files = sorted(glob.glob(os.path.join(folder, "*.mpy")) + glob.glob(os.path.join(folder, "*.py")))
    return arch, [(f, os.path.basename(f)) for f in files] + [(path, "board.json")]


def deploy(port, board=DEFAULT_BOARD, dest="/", tool="mpremote", mip=True, sources=False, dry_run=False):
    """Copy the firmware bundle and the board file; returns the list of
    ``(local, remote)`` copies. ``dest``: the folder for the modules (the board
    file always goes to ``/board.json``)."""
    if dry_run:
        if not port:
            raise UserError("no port given: make deploy PORT=/dev/ttyUSB0")
    else:
        check_port(port, "deploy")
    arch, files = bundle_files(board, sources)
    dest = "/" + dest.strip(":/").strip("/")
    copies = [(src, (dest.rstrip("/") + "/" + name) if name != "board.json" else "/board.json") for src, name in files]
    if dry_run:
        for src, remote in copies:
            print("%s -> :%s" % (os.path.relpath(src, host_tools.ROOT), remote))
        return copies
    from host_tools.progress import bytes_bar
    total = sum(os.path.getsize(s) for s, _ in copies)
    with bytes_bar("deploy to %s" % port, total) as advance:
        if tool == "ampy":
            _put_ampy(port, copies, dest, advance)
        else:
            _put_mpremote(port, copies, dest, advance)
    if mip:
        _mpremote_cli(port, ["mip", "install", "aioble"])
    print("deployed %d files (%d KB) to %s; reset the board to start the BMS: bmsctl reset --port %s"
          % (len(copies), (total + 1023) // 1024, port, port))
    return copies


def _put_mpremote(port, copies, dest, advance):
    from mpremote.transport import TransportError
    t = _transport(port)
    try:
        t.enter_raw_repl(soft_reset=True)
        if dest != "/" and not t.fs_exists(dest):
            t.fs_mkdir(dest)
        for src, remote in copies:
            with open(src, "rb") as f:
                data = f.read()
            done = [0]

            def cb(written, size):
                advance(written - done[0])
                done[0] = written
            t.fs_writefile(remote, data, chunk_size=1024, progress_callback=cb)
        t.exit_raw_repl()
    except (TransportError, OSError) as e:
        raise UserError("copying to %s failed: %s" % (port, str(e).splitlines()[0] if str(e) else type(e).__name__))
    finally:
        t.close()


def _put_ampy(port, copies, dest, advance):
    from ampy.files import DirectoryExistsError, Files
    from ampy.pyboard import Pyboard, PyboardError
    try:
        board = Pyboard(port, baudrate=115200)
        files = Files(board)
        if dest != "/":
            try:
                files.mkdir(dest)
            except DirectoryExistsError:
                pass
        for src, remote in copies:
            with open(src, "rb") as f:
                data = f.read()
            files.put(remote, data)
            advance(len(data))
        board.close()
    except (PyboardError, OSError) as e:
        raise UserError("copying to %s with ampy failed: %s" % (port, str(e).splitlines()[0] if str(e) else
                                                                 type(e).__name__))


def _transport(port):
    from mpremote.transport_serial import SerialTransport
    try:
        return SerialTransport(port, baudrate=115200)
    except Exception as e:
        raise UserError("cannot open %s: %s" % (port, str(e).splitlines()[0] if str(e) else type(e).__name__))


def _mpremote_cli(port, args, capture=False):
    argv = [sys.executable, "-m", "mpremote", "connect", port] + args
    p = subprocess.run(argv, capture_output=capture, text=True)
    if p.returncode != 0:
        last = ((p.stderr or "") + (p.stdout or "")).strip().splitlines() if capture else []
        raise UserError("mpremote %s failed (exit %d)%s" % (" ".join(args), p.returncode,
                                                           (": " + last[-1]) if last else ""))
    return p.stdout


def repl(port):
    """mpremote's interactive REPL (Ctrl-] leaves it); the BMS keeps running."""
    check_port(port, "repl")
    _mpremote_cli(port, ["repl"])


def reset(port):
    """Reset the board (as its reset button): it boots and ``main.py`` starts the BMS."""
    check_port(port, "reset")
    _mpremote_cli(port, ["reset"])


def run_on_board(port, code):
    """Run ``code`` in the board's raw REPL without a soft reset (the BMS keeps
    running); return what it printed. A Python error on the board is a
    ``UserError`` with its last line."""
    check_port(port, "diag")
    from mpremote.transport import TransportError, TransportExecError
    t = _transport(port)
    try:
        t.enter_raw_repl(soft_reset=False)
        out = t.exec(code)
        t.exit_raw_repl()
    except TransportExecError as e:
        lines = (e.error_output or "").strip().splitlines()
        raise UserError("on the board: %s" % (lines[-1] if lines else "error"))
    except (TransportError, OSError) as e:
        raise UserError("no answer from %s: %s" % (port, str(e).splitlines()[0] if str(e) else type(e).__name__))
    finally:
        t.close()
    return out.decode("utf-8", "replace") if isinstance(out, bytes) else out


def diag(port, command):
    """Run one ``diag`` command (``status``, ``history``, ``set("x", 1)``, ...) and return its text."""
    command = command.strip() or "status"
    if command.isidentifier():
        command += "()"
    return run_on_board(port, "import diag\ndiag.%s\n" % command)


def read_settings(port):
    """``{name: value}`` and the running model of the board on ``port``."""
    code = ("import diag, json\na = diag._get(None)\n"
            "print('%s' + json.dumps({'model': a.profile, 'settings': dict((n, a.settings.get(n)) "
            "for n in a.settings.names())}))\n" % MARK)
    out = run_on_board(port, code)
    for line in out.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    raise UserError("the board on %s is not running the BMS: reset it (bmsctl reset --port %s)" % (port, port))


_WRITE = """import diag, inbox, settings as S
a = diag._get(None)
v = %r
try:
    c = a.settings.check_update(v, a.inbox.pending_settings(S.defaults()))
    a.inbox.post((inbox.SETTINGS, dict((n, c[n]) for n in v)))
    print("%%d settings changed (saved to flash within 10 s)" %% len(v))
except S.SettingsError as e:
    print("not changed: %%s" %% e)
"""


def write_settings(port, values):
    """Send ``values`` ({name: value}) as one all-or-nothing change, checked by
    the board as its control tick will apply it (the model's refusals included);
    return the board's one-line answer."""
    return run_on_board(port, _WRITE % (dict(values),))
