"""The Bluetooth credentials: advertisement key, pairing PIN and bonds (docs/ble.md).

Kept in their own document (``ble.json``) through the atomic store, apart from
the settings: the settings are readable over Bluetooth and at the REPL, these
are not (the key only at the REPL, the PIN never). The key is made on first boot
from the caller's random source (``os.urandom`` on the board) and survives a
factory reset, so Home Assistant keeps decoding; a factory reset puts the PIN
back to 000000 (behaviour §9) and forgets every bond.

A missing file is a first boot (new key, no error); a corrupt one gives a new
key, the default PIN, no bonds and ``status`` CORRUPT (the BMS shows E-B31).
"""
from micropython import const

import store

KEYS_FILE = "ble.json"
KEYS_VERSION = 1
DEFAULT_PIN = const(0)          # 000000 (behaviour §9)
MAX_BONDS = const(24)           # secrets kept (a bond is ~3 of them); the oldest go first


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
            if doc.get("kind") != "ble" or doc.get("version") != KEYS_VERSION:
                raise ValueError("unknown document")
            key = bytes.fromhex(doc["key"])
            if len(key) != 16:
                raise ValueError("key")
            pin = doc["pin"]
            if not isinstance(pin, int) or pin < 0 or pin > 999999:
                raise ValueError("pin")
            bonds = []
            for b in doc["bonds"]:
                bonds.append([int(b[0]), bytes.fromhex(b[1]), bytes.fromhex(b[2])])
        except (ValueError, KeyError, TypeError, AttributeError, IndexError):
            self.status = store.CORRUPT
            self.corrupt = True
            self.dirty = True
            return
        self.key = key
        self.pin = pin
        self.bonds = bonds[-MAX_BONDS:]

    def doc(self):
        return {"kind": "ble", "version": KEYS_VERSION, "key": self.key.hex(), "pin": self.pin,
                "bonds": [[b[0], b[1].hex(), b[2].hex()] for b in self.bonds]}

    def save(self):
        """Write the document (atomic); no-op without a file system."""
        if self.fs is not None:
            store.save(self.fs, KEYS_FILE, self.doc())
            self.writes += 1
            self.status = store.OK
        self.dirty = False

    def set_pin(self, pin):
        if not isinstance(pin, int) or pin < 0 or pin > 999999:
            raise ValueError("the PIN is 0..999999 (6 digits)")
        self.pin = pin
        self.dirty = True

    def new_key(self):
        """A new advertisement key (decoders need the new one entered)."""
        self.key = bytes(self._urandom(16))
        self.dirty = True

    def factory_reset(self):
        """The default PIN and no bonds; the key stays."""
        self.pin = DEFAULT_PIN
        self.bonds = []
        self.corrupt = False
        self.dirty = True

    # The stack's secret store (_IRQ_GET_SECRET / _IRQ_SET_SECRET).
    def get_secret(self, sec_type, index, key):
        """The value stored for ``(sec_type, key)``; with ``key`` None the
        ``index``-th value of ``sec_type``; None if there is none."""
        n = 0
        for b in self.bonds:
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
        """Store (or with ``value`` None, delete) a secret; the oldest go past ``MAX_BONDS``."""
        key = bytes(key)
        for i in range(len(self.bonds)):
            b = self.bonds[i]
            if b[0] == sec_type and b[1] == key:
                self.bonds.pop(i)
                break
        if value is not None:
            self.bonds.append([sec_type, key, bytes(value)])
            if len(self.bonds) > MAX_BONDS:
                self.bonds.pop(0)
        self.dirty = True
        return True
