"""Safe application updates: staged into the other slot, checked, switched to
at once, rolled back if the new version does not run (behaviour §11;
docs/update.md).

The board's flash holds two application slots, ``app_a`` and ``app_b`` (the
``.mpy`` bundle, ``main.py`` and ``board.json``), and at its root the loader
(``boot.py``, ``main.py``, this module, ``store``) and the data (settings,
history, alarm state, keys), which an update never touches. ``slots.json``
(written whole or not at all: ``store``) says which slot runs:

    {"active": "app_a", "previous": "app_b", "trial": 1, "boots": 0,
     "version": "...", "rolled_back": null}

An update, over USB (``bmsctl deploy``) or over the air, is:

1. ``Stager.begin(manifest)``: the manifest names every file with its size
   and SHA-256 and the version; the inactive slot is emptied.
2. ``Stager.write(name, offset, data)``: the files' bytes, in order, hashed as
   they arrive.
3. ``Stager.finish()``: every file whole and matching its hash, the manifest
   written last into the slot. Anything wrong raises ``UpdateError`` and the
   running version stays the only one.
4. ``Stager.switch()``: ``slots.json`` names the new slot, on trial.

A power cut at any step leaves the old ``slots.json`` (the old version runs,
the half-written slot is ignored) or the new one. At the next boot
``boot_choice`` counts the trial boot; the new version's first healthy tick
(a complete reading, every output decided: ``Bms.healthy_hook``) calls
``confirm``. A trial version that cannot import, or boots again without
having confirmed (it crashed, hung, or the watchdog reset it), is rolled
back to the previous slot (``rollback``). A slot is only ever written while it
is not the one that runs.
"""
import store

SLOTS_FILE = "slots.json"
SLOTS = ("app_a", "app_b")
MANIFEST_FILE = "manifest.json"
MAX_FILES = 80
MAX_FILE_BYTES = 128 * 1024


class UpdateError(ValueError):
    """An update refused: the running version is untouched (the message says why)."""


def read_slots(fs):
    """The slot record (a dict), or None for a board deployed flat (no slots)
    or a record that is not one (the loader then runs the flat layout)."""
    doc, status = store.load(fs, SLOTS_FILE)
    if doc is None or not isinstance(doc, dict) or doc.get("active") not in SLOTS:
        return None
    return doc


def _save(fs, doc):
    store.save(fs, SLOTS_FILE, doc)


def boot_choice(fs):
    """At boot, before anything is imported from a slot: the slot to run (its
    folder name), or None (flat layout). A trial version's second boot without
    a confirmation rolls it back; its first is counted."""
    doc = read_slots(fs)
    if doc is None:
        return None
    if doc.get("trial"):
        if doc.get("boots", 0) >= 1 and doc.get("previous") in SLOTS:
            return rollback(fs, "it did not reach a healthy first tick")
        doc["boots"] = doc.get("boots", 0) + 1
        _save(fs, doc)
    return doc["active"]


def rollback(fs, why):
    """Make the previous slot the active one again; return its name (or the
    active one's when there is no previous: nothing to go back to)."""
    doc = read_slots(fs)
    if doc is None:
        return None
    prev = doc.get("previous")
    if prev not in SLOTS:
        return doc["active"]
    new = {"active": prev, "previous": None, "trial": 0, "boots": 0, "version": doc.get("previous_version"),
           "rolled_back": {"version": doc.get("version"), "why": why}}
    _save(fs, new)
    return prev


def confirm(fs):
    """The running version reached a healthy first tick: it stays. Returns True
    when this ended a trial."""
    doc = read_slots(fs)
    if doc is None or not doc.get("trial"):
        return False
    doc["trial"] = 0
    doc["boots"] = 0
    _save(fs, doc)
    return True


def _check_manifest(m):
    if not isinstance(m, dict) or not isinstance(m.get("version"), str) or not m["version"]:
        raise UpdateError("the manifest needs a version (a non-empty string)")
    files = m.get("files")
    if not isinstance(files, dict) or not files:
        raise UpdateError("the manifest needs files: {name: [size, sha256 hex]}")
    if len(files) > MAX_FILES:
        raise UpdateError("too many files: %d (at most %d)" % (len(files), MAX_FILES))
    for name in files:
        v = files[name]
        if (not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith(".")
                or name == MANIFEST_FILE):
            raise UpdateError("not a file name for a slot: %r" % (name,))
        if (not isinstance(v, list) or len(v) != 2 or not isinstance(v[0], int) or isinstance(v[0], bool)
                or not 0 <= v[0] <= MAX_FILE_BYTES or not isinstance(v[1], str) or len(v[1]) != 64):
            raise UpdateError("%s: needs [size in bytes (0..%d), sha256 as 64 hex digits]" % (name, MAX_FILE_BYTES))
    for need in ("main.py", "board.json"):
        if need not in files:
            raise UpdateError("the bundle has no %s" % need)


class Stager:
    """One update into the inactive slot. ``fs``: ``store.OsFs()`` on the board
    (``store.MemFs`` in tests); ``sha256``: ``hashlib.sha256``."""

    def __init__(self, fs, sha256):
        self.fs = fs
        self.sha256 = sha256
        self.manifest = None
        self.slot = None
        self._hash = {}
        self._size = {}
        self.finished = False

    def begin(self, manifest):
        """Check ``manifest`` and empty the slot that does not run; raises
        ``UpdateError``."""
        _check_manifest(manifest)
        doc = read_slots(self.fs)
        running = doc["active"] if doc is not None else None
        self.slot = SLOTS[1] if running == SLOTS[0] else SLOTS[0]
        old = store.load(self.fs, self.slot + "/" + MANIFEST_FILE)[0]
        self.fs.remove(self.slot + "/" + MANIFEST_FILE)     # first: a half-emptied slot is never "whole"
        if isinstance(old, dict) and isinstance(old.get("files"), dict):
            for name in old["files"]:
                self.fs.remove(self.slot + "/" + name)
        self.fs.mkdir(self.slot)
        self.manifest = manifest
        self._hash = {}
        self._size = {}
        self.finished = False
        return self.slot

    def write(self, name, offset, data):
        """Bytes ``data`` of file ``name`` at ``offset`` (the next byte it
        lacks: files come in order); raises ``UpdateError``."""
        if self.manifest is None:
            raise UpdateError("no update begun")
        files = self.manifest["files"]
        if name not in files:
            raise UpdateError("%s is not in the manifest" % (name,))
        have = self._size.get(name, 0)
        if offset != have:
            raise UpdateError("%s: expected bytes from offset %d, not %d" % (name, have, offset))
        if have + len(data) > files[name][0]:
            raise UpdateError("%s: more bytes than the manifest's %d" % (name, files[name][0]))
        path = "%s/%s" % (self.slot, name)
        if have == 0:
            self.fs.write(path, data)
            self._hash[name] = self.sha256()
        else:
            self.fs.append(path, data)
        self._hash[name].update(data)
        self._size[name] = have + len(data)

    def finish(self):
        """Every file whole and matching its SHA-256; then the manifest goes into
        the slot. Raises ``UpdateError`` naming what is wrong."""
        if self.manifest is None:
            raise UpdateError("no update begun")
        import binascii
        files = self.manifest["files"]
        for name in files:
            size, digest = files[name]
            got = self._size.get(name, 0)
            if got != size:
                raise UpdateError("%s: %d of %d bytes arrived" % (name, got, size))
            h = self._hash.get(name) or self.sha256()
            if binascii.hexlify(h.digest()).decode() != digest.lower():
                raise UpdateError("%s: its SHA-256 does not match the manifest" % name)
        store.save(self.fs, "%s/%s" % (self.slot, MANIFEST_FILE), self.manifest)
        self.finished = True

    def switch(self):
        """Make the checked slot the one that runs from the next boot, on trial."""
        m = self.manifest
        if not self.finished or m is None:
            raise UpdateError("the update is not finished and checked")
        doc = read_slots(self.fs)
        prev = doc["active"] if doc is not None else None
        prev_version = doc.get("version") if doc is not None else None
        _save(self.fs, {"active": self.slot, "previous": prev, "previous_version": prev_version, "trial": 1,
                        "boots": 0, "version": m["version"], "rolled_back": None})
        self.manifest = None
        return self.slot
