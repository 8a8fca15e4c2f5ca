"""A stand-in for MicroPython's ``bluetooth`` module, with the phones on the other side.

The firmware's ``ble.Radio`` drives it exactly as it drives the board's radio
(``BLE()``, ``UUID``, ``active``, ``config``, ``irq``, ``gap_advertise``,
``gatts_*``, ``gap_passkey``, ``gap_disconnect``). The test (or the virtual
board) plays the centrals: ``connect``, ``pair``, ``read``, ``write`` and
``disconnect`` raise the IRQ events NimBLE would raise, in the same order.

Like NimBLE it enforces the characteristics' security flags (an unpaired read or
write gets ATT error 0x05 and no event); ``enforce=False`` turns that off to show
the firmware's own checks hold without it. Pairing follows LE Secure
Connections with a passkey: the device is asked for its passkey
(``_IRQ_PASSKEY_ACTION``, display) and pairing succeeds only when the phone's
PIN equals it. Bonding stores a long-term key through ``_IRQ_SET_SECRET`` and a
reconnecting bonded phone is encrypted from ``_IRQ_GET_SECRET`` without a PIN.

Runs under CPython and MicroPython (the virtual board loads it as ``bluetooth``).
"""

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3
_IRQ_GATTS_READ_REQUEST = 4
_IRQ_MTU_EXCHANGED = 21
_IRQ_ENCRYPTION_UPDATE = 28
_IRQ_GET_SECRET = 29
_IRQ_SET_SECRET = 30
_IRQ_PASSKEY_ACTION = 31
_PASSKEY_ACTION_DISPLAY = 3

FLAG_READ = 0x0002
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_READ_ENCRYPTED = 0x0200
FLAG_READ_AUTHENTICATED = 0x0400
FLAG_WRITE_ENCRYPTED = 0x1000
FLAG_WRITE_AUTHENTICATED = 0x2000
SEC_TYPE_LTK = 1         # the sec_type the mock stores its long-term keys under
MAX_CONNECTIONS = 4

ATT_OK = 0
ATT_READ_NOT_PERMITTED = 0x02
ATT_WRITE_NOT_PERMITTED = 0x03
ATT_INSUFFICIENT_AUTHENTICATION = 0x05


class BleError(OSError):
    """What the radio's stack would refuse (not connected, too many connections)."""


class UUID:
    def __init__(self, value):
        if isinstance(value, UUID):
            value = value.text
        self.text = str(value).lower()

    def __eq__(self, other):
        return isinstance(other, UUID) and other.text == self.text

    def __hash__(self):
        return hash(self.text)

    def __repr__(self):
        return "UUID('%s')" % self.text


class _Attr:
    def __init__(self, uuid, flags):
        self.uuid = uuid
        self.flags = flags
        self.value = b""
        self.size = 20


class _Central:
    def __init__(self, handle, addr):
        self.handle = handle
        self.addr = addr
        self.encrypted = False
        self.authenticated = False
        self.notifications = []       # (value_handle, bytes) in order


_radio = None


def BLE():  # noqa: N802 - MicroPython's name: the singleton
    global _radio
    if _radio is None:
        _radio = MockBLE()
    return _radio


def reset():
    """A fresh radio (a new boot)."""
    global _radio
    _radio = None


class MockBLE:
    def __init__(self):
        self.enforce = True
        self.is_active = False
        self.conf = {"mtu": 23, "io": 3, "mitm": False, "le_secure": False, "bond": False, "gap_name": ""}
        self.handler = None
        self.attrs = {}                 # value handle -> _Attr
        self.by_uuid = {}               # uuid text -> value handle
        self.adv = None                 # (interval_us, adv_data, resp_data, connectable) or None
        self.adv_log = []               # every gap_advertise call, in order
        self.centrals = {}              # conn handle -> _Central
        self.passkeys = {}              # conn handle -> (action, passkey) the device answered
        self.disconnected_by_device = []
        self._next_conn = 0
        self._next_handle = 1

    # -- the device's API (bluetooth.BLE) ------------------------------------
    def active(self, *args):
        if args:
            self.is_active = bool(args[0])
        return self.is_active

    def config(self, *args, **kw):
        if args:
            return self.conf[args[0]]
        for k in kw:
            self.conf[k] = kw[k]
        return None

    def irq(self, handler):
        self.handler = handler

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        if not self.is_active:
            raise BleError("radio not active")
        if interval_us is None:
            self.adv = None
        else:
            prev = self.adv
            adv = bytes(adv_data) if adv_data is not None else (prev[1] if prev else b"")
            resp = bytes(resp_data) if resp_data is not None else (prev[2] if prev else b"")
            if len(adv) > 31 or len(resp) > 31:
                raise BleError("advertising data longer than 31 bytes")
            self.adv = (interval_us, adv, resp, connectable)
        self.adv_log.append(self.adv)

    def gatts_register_services(self, services):
        out = []
        for svc in services:
            handles = []
            for ch in svc[1]:
                h = self._next_handle
                self._next_handle += 2         # value handle, then its descriptor
                self.attrs[h] = _Attr(ch[0], ch[1])
                self.by_uuid[ch[0].text] = h
                handles.append(h)
            out.append(tuple(handles))
        return tuple(out)

    def gatts_set_buffer(self, handle, size, append=False):
        self.attrs[handle].size = size

    def gatts_write(self, handle, data, send_update=False):
        self.attrs[handle].value = bytes(data)

    def gatts_read(self, handle):
        return self.attrs[handle].value

    def gatts_notify(self, conn, handle, data=None):
        c = self.centrals.get(conn)
        if c is None:
            raise BleError("not connected")
        value = self.attrs[handle].value if data is None else bytes(data)
        c.notifications.append((handle, value))

    def gap_passkey(self, conn, action, passkey):
        self.passkeys[conn] = (action, passkey)

    def gap_disconnect(self, conn):
        if conn in self.centrals:
            self.disconnected_by_device.append(conn)
            self._drop(conn)
            return True
        return False

    # -- the phones' side ------------------------------------------------------
    def _irq(self, event, data):
        if self.handler is None:
            return None
        return self.handler(event, data)

    def connect(self, addr=b"\x01\x02\x03\x04\x05\x06"):
        """A phone connects; return its connection handle. ``BleError`` when the
        device does not advertise connectably."""
        if self.adv is None or not self.adv[3]:
            raise BleError("the device is not advertising connectably")
        if len(self.centrals) >= MAX_CONNECTIONS:
            raise BleError("no free connection")
        h = self._next_conn
        self._next_conn += 1
        self.centrals[h] = _Central(h, bytes(addr))
        self.adv = None                  # NimBLE stops advertising on a connection
        self._irq(_IRQ_CENTRAL_CONNECT, (h, 0, self.centrals[h].addr))
        mtu = self.conf.get("mtu", 23)
        self._irq(_IRQ_MTU_EXCHANGED, (h, mtu))
        return h

    def pair(self, conn, pin, bond=True):
        """The phone pairs, its user typing ``pin`` (int); return True when the
        link is then encrypted and authenticated."""
        c = self.centrals[conn]
        if not (self.conf["mitm"] and self.conf["le_secure"] and self.conf["io"] == 0):
            return False                 # a passkey pairing needs MITM, LE Secure, display-only
        self.passkeys.pop(conn, None)
        self._irq(_IRQ_PASSKEY_ACTION, (conn, _PASSKEY_ACTION_DISPLAY, 0))
        answered = self.passkeys.get(conn)
        if answered is None or answered[0] != _PASSKEY_ACTION_DISPLAY or answered[1] != pin:
            return False                 # pairing failed: no encryption update
        c.encrypted = c.authenticated = True
        bonded = bond and self.conf["bond"]
        if bonded:
            ltk = bytes([(pin >> (i % 3 * 8) & 0xFF) ^ i for i in range(16)])
            self._irq(_IRQ_SET_SECRET, (SEC_TYPE_LTK, c.addr, ltk))
        self._irq(_IRQ_ENCRYPTION_UPDATE, (conn, 1, 1, 1 if bonded else 0, 16))
        return True

    def resume(self, conn):
        """A bonded phone re-encrypts with its stored key; True if the device knew it."""
        c = self.centrals[conn]
        ltk = self._irq(_IRQ_GET_SECRET, (SEC_TYPE_LTK, 0, c.addr))
        if ltk is None:
            return False
        c.encrypted = c.authenticated = True
        self._irq(_IRQ_ENCRYPTION_UPDATE, (conn, 1, 1, 1, 16))
        return True

    def encrypt_unauthenticated(self, conn):
        """'Just works' pairing: encrypted but not authenticated (no PIN)."""
        c = self.centrals[conn]
        c.encrypted = True
        c.authenticated = False
        self._irq(_IRQ_ENCRYPTION_UPDATE, (conn, 1, 0, 0, 16))

    def handle(self, uuid):
        return self.by_uuid[UUID(uuid).text]

    def read(self, conn, uuid):
        """``(att_status, bytes)`` of a read by phone ``conn``."""
        c = self.centrals[conn]
        h = self.handle(uuid)
        a = self.attrs[h]
        if not a.flags & FLAG_READ:
            return ATT_READ_NOT_PERMITTED, b""
        if self.enforce and a.flags & (FLAG_READ_ENCRYPTED | FLAG_READ_AUTHENTICATED) and not c.authenticated:
            return ATT_INSUFFICIENT_AUTHENTICATION, b""
        rc = self._irq(_IRQ_GATTS_READ_REQUEST, (conn, h))
        if rc:
            return rc, b""
        return ATT_OK, a.value

    def write(self, conn, uuid, data):
        """A write with response by phone ``conn``; return the ATT status."""
        c = self.centrals[conn]
        h = self.handle(uuid)
        a = self.attrs[h]
        if not a.flags & FLAG_WRITE:
            return ATT_WRITE_NOT_PERMITTED
        if self.enforce and a.flags & (FLAG_WRITE_ENCRYPTED | FLAG_WRITE_AUTHENTICATED) and not c.authenticated:
            return ATT_INSUFFICIENT_AUTHENTICATION
        a.value = bytes(data)[:a.size]   # NimBLE's binding keeps what fits its buffer
        self._irq(_IRQ_GATTS_WRITE, (conn, h))
        return ATT_OK

    def notifications(self, conn, uuid=None):
        """The notifications phone ``conn`` got (values), optionally of one characteristic."""
        c = self.centrals[conn]
        h = None if uuid is None else self.handle(uuid)
        return [v for (hh, v) in c.notifications if h is None or hh == h]

    def _drop(self, conn):
        self.centrals.pop(conn, None)
        self._irq(_IRQ_CENTRAL_DISCONNECT, (conn, 0, b"\x00" * 6))

    def disconnect(self, conn):
        """The phone goes away."""
        self._drop(conn)

    def manufacturer_data(self):
        """The company id and payload of the advertisement's manufacturer AD
        (``(company, bytes)``), as a scanner reports it, or None."""
        if self.adv is None:
            return None
        return parse_manufacturer(self.adv[1])


def parse_manufacturer(adv):
    """``(company_id, payload)`` of the first manufacturer-data AD in ``adv``, or None."""
    i = 0
    adv = bytes(adv)
    while i + 1 < len(adv):
        n = adv[i]
        if n == 0:
            break
        if adv[i + 1] == 0xFF and n >= 3:
            return adv[i + 2] | (adv[i + 3] << 8), adv[i + 4:i + 1 + n]
        i += n + 1
    return None
