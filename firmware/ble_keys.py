"""The Bluetooth credentials: advertisement key, pairing PIN and bonds (docs/ble.md).

Kept in their own document (``ble.json``) through the atomic store, apart from
the settings: the settings are readable over Bluetooth and at the REPL, these
are not (the key only at the REPL, the PIN never). The key is made on first boot
from the caller's random source (``os.urandom`` on the board) and survives a
factory reset, so Home Assistant keeps decoding; a factory reset puts the PIN
back to 000000 (behaviour §9) and forgets every bond.

A missing file is a first boot (new key, no error); a corrupt one gives a new
key, the default PIN, no bonds and ``corrupt`` (the BMS shows E-B31), kept in the
new file until a factory reset. The stack's secrets from a pairing are held
apart (``pending``) until the link is authenticated with the PIN: a phone that
pairs without it never gets a bond, nor pushes out one.
"""
from micropython import const

import store

KEYS_FILE = "ble.json"
KEYS_VERSION = 1
DEFAULT_PIN = const(0)          # 000000 (behaviour §9)
MAX_BONDS = const(24)           # secrets kept (NimBLE stores 2 a phone: 12 phones); the oldest go first


def pin_text(pin):
    return "%06d" % pin


def parse_pin(value):
    """A PIN from 6 decimal digits (str or bytes); ``ValueError`` otherwise."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode()
    if not isinstance(value, str) or len(value) != 6:
        raise ValueError("the PIN is 6 digits")
    for ch in value:
        if ch < "0" or ch > "9":
            raise ValueError("the PIN is 6 digits")
    return int(value)


class BleKeys:
    """``key`` (16 bytes), ``pin`` (0..999999), ``bonds`` (list of
    ``[sec_type, key bytes, value bytes]``, oldest first), ``status``
    (``store.OK`` / ``MISSING`` / ``CORRUPT`` of the load), ``dirty``."""

    def __init__(self, urandom, fs=None):
        self._urandom = urandom
        self.fs = fs
        self.key = bytes(urandom(16))
        self.pin = DEFAULT_PIN
        self.bonds = []
        self.pending = []           # secrets of pairings not yet authenticated
        self.generation = 0         # counts "every phone forgotten": connected ones are cut off
        self.status = store.MISSING
        self.corrupt = False        # the stored document was corrupt (E-B31 until a factory reset)
        self.dirty = False
        self.writes = 0
        if fs is not None:
            self._load()

    def _load(self):
        doc, status = store.load(self.fs, KEYS_FILE)
        self.status = status
        self.corrupt = status == store.CORRUPT
        if doc is None:
            self.dirty = True           # first boot (or corrupt): keep the new key
            return
        try:
            if doc.get("kind") != "ble" or not _is_int(doc.get("version")) or doc["version"] != KEYS_VERSION:
                raise ValueError("unknown document")
            key = bytes.fromhex(doc["key"])
            if len(key) != 16:
                raise ValueError("key")
            pin = doc["pin"]
            if not _is_int(pin) or pin < 0 or pin > 999999:
                raise ValueError("pin")
            bonds = []
            for b in doc["bonds"]:
                if not _is_int(b[0]):
                    raise ValueError("bond")
                bonds.append([b[0], bytes.fromhex(b[1]), bytes.fromhex(b[2])])
            recovered = doc.get("recovered", False)
            if recovered is not True and recovered is not False:
                raise ValueError("recovered")
        except (ValueError, KeyError, TypeError, AttributeError, IndexError):
            self.status = store.CORRUPT
            self.corrupt = True
            self.dirty = True
            return
        self.key = key
        self.pin = pin
        self.bonds = bonds[-MAX_BONDS:]
        self.corrupt = recovered

    def doc(self):
        return {"kind": "ble", "version": KEYS_VERSION, "key": self.key.hex(), "pin": self.pin,
                "bonds": [[b[0], b[1].hex(), b[2].hex()] for b in self.bonds], "recovered": self.corrupt}

    def save(self):
        """Write the document (atomic); no-op without a file system. A secret
        the radio stores while this writes marks it dirty again."""
        self.dirty = False          # first: a change during the write is not lost
        if self.fs is None:
            return
        try:
            store.save(self.fs, KEYS_FILE, self.doc())
        except Exception:
            self.dirty = True
            raise
        self.writes += 1
        self.status = store.OK

    def set_pin(self, pin):
        if not isinstance(pin, int) or pin < 0 or pin > 999999:
            raise ValueError("the PIN is 0..999999 (6 digits)")
        self.pin = pin
        self.dirty = True

    def new_key(self):
        """A new advertisement key (decoders need the new one entered)."""
        self.key = bytes(self._urandom(16))
        self.dirty = True

    def forget(self):
        """Forget every phone: the bonds, pairings under way, and (through
        ``generation``) the connected phones' access."""
        self.bonds = []
        self.pending = []
        self.generation += 1
        self.dirty = True

    def factory_reset(self):
        """The default PIN and no phones; the key stays; E-B31 from a corrupt file clears."""
        self.pin = DEFAULT_PIN
        self.corrupt = False
        self.forget()

    # The stack's secret store (_IRQ_GET_SECRET / _IRQ_SET_SECRET).
    def get_secret(self, sec_type, index, key):
        """The value stored for ``(sec_type, key)``; with ``key`` None the
        ``index``-th value of ``sec_type``; None if there is none."""
        n = 0
        for b in self.pending + self.bonds:
            if b[0] != sec_type:
                continue
            if key is None:
                if n == index:
                    return b[2]
                n += 1
            elif b[1] == key:
                return b[2]
        return None

    def set_secret(self, sec_type, key, value):
        """Hold a secret of a pairing under way (``commit`` keeps it once the
        link is authenticated); with ``value`` None, delete it now."""
        key = bytes(key)
        _remove(self.pending, sec_type, key)
        if value is None:
            if _remove(self.bonds, sec_type, key):
                self.dirty = True
        elif len(self.pending) < MAX_BONDS:
            self.pending.append([sec_type, key, bytes(value)])
        return True

    def commit(self):
        """A link was authenticated with the PIN: its pairing's secrets become
        bonds (the oldest go past ``MAX_BONDS``)."""
        if not self.pending:
            return
        for b in self.pending:
            _remove(self.bonds, b[0], b[1])
            self.bonds.append(b)
        self.pending = []
        while len(self.bonds) > MAX_BONDS:
            self.bonds.pop(0)
        self.dirty = True

    def drop_pending(self):
        """A pairing ended without the PIN: nothing of it is kept."""
        self.pending = []


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _remove(lst, sec_type, key):
    for i in range(len(lst)):
        if lst[i][0] == sec_type and lst[i][1] == key:
            lst.pop(i)
            return True
    return False
