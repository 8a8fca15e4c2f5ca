"""``bmsctl update``: a safe application update over USB (docs/update.md).

The board runs ``firmware/update.py``'s steps through its REPL while the BMS
keeps running: charging is withdrawn for the update (``inbox.UPDATING``), the
bundle is staged into the slot that does not run, checked file by file
(size, SHA-256), switched to on trial, and the board resets into it with the
load output held on. The new version confirms itself at its first healthy tick;
if it does not, the board rolls back by itself.
"""
import base64
import hashlib
import json

from host_tools.board_cmds import UserError, bundle_files, check_port, _transport

CHUNK = 3072                    # bytes per write: a REPL line of about 4 KB of base64

_BEGIN = """import update, store, hashlib, json, binascii
try:
    import bms, inbox
    if bms.running is not None:
        bms.running.inbox.post((inbox.UPDATING, True))
except ImportError:
    pass
_st = update.Stager(store.OsFs(), hashlib.sha256)
print('slot', _st.begin(json.loads(%r)))
"""
_END = """try:
    import bms, inbox
    if bms.running is not None:
        bms.running.inbox.post((inbox.UPDATING, False))
except ImportError:
    pass
"""
_SWITCH = """_st.finish()
print('switched to', _st.switch())
"""
_RESET = """import hw, loader
try:
    import bms
    atd = bms.running is not None and bool(bms.running.status.atd)
except ImportError:
    atd = False
hw.hold_output(loader._state['board'], 'load_disconnect', atd)
hw.reset()
"""


def manifest_of(files, version=None):
    """``(manifest, {name: bytes})`` for a bundle (``board_cmds.bundle_files``)."""
    data = {}
    for src, name in files:
        with open(src, "rb") as f:
            data[name] = f.read()
    h = hashlib.sha256()
    for name in sorted(data):
        h.update(name.encode() + b"\0" + data[name])
    if version is None:
        from importlib import metadata
        try:
            base = metadata.version("esp32-lifepo4-bms-host-tools")
        except metadata.PackageNotFoundError:
            base = "0"
        version = "%s+%s" % (base, h.hexdigest()[:8])
    files_doc = dict((n, [len(d), hashlib.sha256(d).hexdigest()]) for n, d in data.items())
    return {"version": version, "files": files_doc}, data


def update(port, board="esp32-devkitc", sources=False, version=None, reset=True, echo=print):
    """Stage, check and switch to the bundle for ``board`` on the board at
    ``port``; then reset it into the new version (unless ``reset`` is False).
    Returns the manifest. Raises ``UserError`` with the board's reason when it
    refuses (nothing switched: the running version stays)."""
    check_port(port, "update")
    _, files = bundle_files(board, sources)
    manifest, data = manifest_of(files, version)
    from mpremote.transport import TransportError, TransportExecError
    from host_tools.progress import bytes_bar
    t = _transport(port)
    try:
        t.enter_raw_repl(soft_reset=False)       # the BMS keeps running meanwhile
        try:
            out = t.exec(_BEGIN % json.dumps(manifest)).decode()
            slot = out.split()[-1]
            total = sum(len(d) for d in data.values())
            with bytes_bar("update to %s (slot %s)" % (port, slot), total) as advance:
                for name in sorted(data):
                    d = data[name]
                    for off in range(0, len(d), CHUNK):
                        chunk = d[off:off + CHUNK]
                        t.exec("_st.write(%r, %d, binascii.a2b_base64(%r))"
                               % (name, off, base64.b64encode(chunk)))
                        advance(len(chunk))
            t.exec(_SWITCH)
        except TransportExecError as e:
            lines = (e.error_output or "").strip().splitlines()
            t.exec(_END)
            raise UserError("the board refused the update, nothing switched: %s" % (lines[-1] if lines else "error"))
        echo("update %s staged in %s, checked (%d files, SHA-256) and switched to on trial"
             % (manifest["version"], slot, len(data)))
        if reset:
            try:
                t.exec_raw_no_follow(_RESET)
            except (TransportError, OSError):
                pass                              # the board is resetting
            echo("the board resets into it; it confirms itself at its first healthy tick, "
                 "or rolls back to the version before")
        else:
            t.exec(_END)
            t.exit_raw_repl()
    except (TransportError, OSError) as e:
        raise UserError("no answer from %s: %s" % (port, str(e).splitlines()[0] if str(e) else type(e).__name__))
    finally:
        t.close()
    return manifest


def slots(port):
    """The board's ``slots.json`` as a dict (or None: deployed flat)."""
    from host_tools.board_cmds import run_on_board
    out = run_on_board(port, "import update, store, json\nprint('SLOTS' + json.dumps(update.read_slots(store.OsFs())))\n")
    for line in out.splitlines():
        if line.startswith("SLOTS"):
            return json.loads(line[5:])
    raise UserError("no slot record from %s" % port)
