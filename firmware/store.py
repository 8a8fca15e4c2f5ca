"""Power-cut-safe storage of small JSON documents (settings, history).

A document is written to ``<name>.tmp`` in full, then renamed over ``<name>``:
LittleFS (the ESP32's filesystem) and POSIX both make the rename atomic, so at
every instant ``<name>`` holds either the old or the new document, whole. The file
is the JSON text, a newline and ``#crc32=XXXXXXXX``: a torn or bit-rotted file is
detected and never half-used. ``load`` returns ``(data, status)`` with status
``OK``, ``MISSING`` or ``CORRUPT``; what to do then is the caller's.

``fs`` is injected: ``OsFs`` on the board and the host, ``MemFs`` in the
simulator, a crashing stand-in in the power-cut tests.
"""
import binascii
import json

OK = 0
MISSING = 1
CORRUPT = 2
STATUS_NAMES = ("ok", "missing", "corrupt")


class OsFs:
    """The real filesystem, through ``open`` and ``os``."""

    def __init__(self, root=""):
        self.root = root

    def path(self, name):
        return self.root + "/" + name if self.root else name

    def read(self, name):
        try:
            with open(self.path(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)

    def append(self, name, data):
        with open(self.path(name), "ab") as f:
            f.write(data)

    def mkdir(self, name):
        import os
        try:
            os.mkdir(self.path(name))
        except OSError:            # it exists
            pass

    def rename(self, src, dst):
        import os
        os.rename(self.path(src), self.path(dst))

    def remove(self, name):
        import os
        try:
            os.remove(self.path(name))
        except OSError:
            pass


class MemFs:
    """A filesystem in memory with ``OsFs``'s methods: the simulator runs the
    firmware's persistence on it. ``files`` maps name -> bytes; ``writes`` counts."""

    def __init__(self):
        self.files = {}
        self.writes = 0

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        self.files[name] = bytes(data)
        self.writes += 1

    def append(self, name, data):
        self.files[name] = self.files.get(name, b"") + bytes(data)
        self.writes += 1

    def mkdir(self, name):
        pass                       # names with "/" are simply keys

    def rename(self, src, dst):
        self.files[dst] = self.files.pop(src)

    def remove(self, name):
        self.files.pop(name, None)


def encode(doc):
    """The bytes of a stored document: JSON, newline, CRC-32 of the JSON."""
    body = json.dumps(doc).encode()
    return body + ("\n#crc32=%08x\n" % (binascii.crc32(body) & 0xFFFFFFFF)).encode()


def decode(raw):
    """The document in ``raw``, or None if it is torn, corrupt or not JSON."""
    if not raw:
        return None
    i = raw.rfind(b"\n#crc32=")
    if i < 0 or len(raw) != i + 17 or raw[-1:] != b"\n":
        return None
    body = raw[:i]
    try:
        if int(raw[i + 8:i + 16].decode(), 16) != binascii.crc32(body) & 0xFFFFFFFF:
            return None
        return json.loads(body)
    except (ValueError, UnicodeError):
        return None


def save(fs, name, doc):
    """Write ``doc`` so that a power cut at any point leaves the old or the new one."""
    tmp = name + ".tmp"
    fs.write(tmp, encode(doc))
    fs.rename(tmp, name)


def load(fs, name):
    """``(doc, status)``: the stored document and OK, or (None, MISSING / CORRUPT)."""
    raw = fs.read(name)
    if raw is None:
        return None, MISSING
    doc = decode(raw)
    if doc is None:
        return None, CORRUPT
    return doc, OK
