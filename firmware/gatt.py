"""The GATT service's values and commands (docs/ble.md), without the radio.

Values (filled by the control tick from the status record, fixed lengths so a
refresh allocates nothing):

- live (20 bytes, little-endian): ``<HiHHihHBB``: bank mV (0xFFFF none),
  current mA (+ charging; 0x7FFFFFFF unknown), SoC 0.1 % (0xFFFF unknown),
  time-to-go min (0xFFFF none), consumed mAh (<= 0), hottest battery 0.1 degC
  (0x7FFF none), IO bits (``readout.IO_*``), error number (E-B11 -> 11), count of
  active codes;
- codes (4 bytes): ``<I`` bit ``i`` set while code id ``i`` (``codes.TABLE``
  order) is active;
- battery (40 bytes): ``<BBBBHh`` index, count, cells, flags, voltage mV, hottest
  0.1 degC, then 16 cells as ``<H`` mV (0 past the battery's cells); one battery
  per refresh, in turns.

Commands are written to the command characteristic as an envelope
``token (4 bytes) | seq (<H) | op (1 byte) | body``: ``token`` is the
connection's session token (read from the session characteristic after
pairing), ``seq`` must grow on every command of a session. The answer
``seq (<H) | status (1 byte) | text`` is notified on, and readable from, the
result characteristic. Status ``OK`` means validated and queued for the control
tick (``inbox``); anything else changed nothing.
"""
import json
import struct

from micropython import const

import codes as C
import inbox as I
import readout as R
from ble_keys import parse_pin
from bank import MAX_CELLS, MAX_TEMPS
from settings import SettingsError, defaults

# 128-bit UUIDs: this project's own base, 0x5ab0xxxx.
SERVICE_UUID = "5ab00000-3c1e-4f7a-9d2e-8b6f0c1e7a51"
LIVE_UUID = "5ab00001-3c1e-4f7a-9d2e-8b6f0c1e7a51"
CODES_UUID = "5ab00002-3c1e-4f7a-9d2e-8b6f0c1e7a51"
BATTERY_UUID = "5ab00003-3c1e-4f7a-9d2e-8b6f0c1e7a51"
SESSION_UUID = "5ab00010-3c1e-4f7a-9d2e-8b6f0c1e7a51"
COMMAND_UUID = "5ab00011-3c1e-4f7a-9d2e-8b6f0c1e7a51"
RESULT_UUID = "5ab00012-3c1e-4f7a-9d2e-8b6f0c1e7a51"

# Characteristic flags: read 0x0002, write 0x0008, notify 0x0010, read encrypted
# 0x0200, read authenticated 0x0400, write encrypted 0x1000, write authenticated
# 0x2000: the stack itself refuses an unpaired or unauthenticated access.
_READ_SECURE = const(0x0002 | 0x0200 | 0x0400)
_NOTIFY_SECURE = const(0x0002 | 0x0010 | 0x0200 | 0x0400)
_WRITE_SECURE = const(0x0008 | 0x1000 | 0x2000)

LIVE_FMT = "<HiHHihHBB"
LIVE_LEN = const(20)
CODES_LEN = const(4)
BATTERY_HEAD = "<BBBBHh"
BATTERY_LEN = const(40)
COMMAND_MAX = const(200)       # the command characteristic's buffer: the longest write
RESULT_MAX = const(200)
ENVELOPE = const(7)            # token 4, seq 2, op 1

# Operations.
OP_GET = const(1)              # body: a setting name -> {"name": value}
OP_SET = const(2)              # body: JSON object of settings -> all or nothing
OP_SWITCH = const(3)           # body: 1 byte, 1 on / 0 off (the soft switch)
OP_CLEAR_HISTORY = const(4)
OP_RESET_ALARMS = const(5)
OP_SET_PIN = const(6)          # body: 6 ASCII digits
OP_LIST = const(7)             # body: 1 byte page -> setting names, comma separated

# Result status.
OK = const(0)
NOT_AUTHENTICATED = const(1)   # the link is not encrypted with an authenticated (PIN) pairing
MALFORMED = const(2)           # too short, bad JSON, a value of the wrong shape
REPLAYED = const(3)            # seq not above the session's last
BAD_SESSION = const(4)         # token is not this connection's
REFUSED = const(5)             # well formed but not allowed (out of range, unknown setting)
BUSY = const(6)                # the command inbox is full: the control loop is not running
UNKNOWN_OP = const(7)
STATUS_NAMES = ("ok", "not authenticated", "malformed", "replayed", "bad session", "refused", "busy",
                "unknown operation")
LIST_PAGE = const(150)         # bytes of names per OP_LIST page

_CODE_BIT = const(1)


class Values:
    """The readable values, refreshed from the status record by ``fill``."""

    def __init__(self):
        self.live = bytearray(LIVE_LEN)
        self.codes = bytearray(CODES_LEN)
        self.battery = bytearray(BATTERY_LEN)
        self._battery_i = 0

    def fill(self, st):
        bank = st.bank
        err = R.error_byte(st.active)
        n = 0
        lo = 0
        hi = 0
        for cid in range(C.N_CODES):
            if st.active[cid]:
                n += 1
                if cid < 16:
                    lo |= _CODE_BIT << cid
                else:
                    hi |= _CODE_BIT << (cid - 16)
        struct.pack_into(LIVE_FMT, self.live, 0,
                         0xFFFF if bank is None else (bank.bank_mv if bank.bank_mv < 0xFFFF else 0xFFFE),
                         st.current_ma if st.current_known else 0x7FFFFFFF,
                         st.soc_pct10 if st.soc_pct10 >= 0 else 0xFFFF,
                         0xFFFF if st.ttg_min < 0 else (st.ttg_min if st.ttg_min < 0xFFFE else 0xFFFE),
                         st.consumed_mah if st.soc_pct10 >= 0 else 0,
                         0x7FFF if bank is None else bank.temp_max_dc,
                         R.io_status(st), err, n)
        struct.pack_into("<HH", self.codes, 0, lo, hi)
        b = self.battery
        for k in range(BATTERY_LEN):
            b[k] = 0
        if bank is None or not bank.count:
            return
        if self._battery_i >= bank.count:
            self._battery_i = 0
        i = self._battery_i
        self._battery_i += 1
        nt = bank.n_temps[i]
        t = 0x7FFF
        for k in range(nt):
            v = bank.temp_dc[i * MAX_TEMPS + k]
            if t == 0x7FFF or v > t:
                t = v
        nc = bank.n_cells[i]
        struct.pack_into(BATTERY_HEAD, b, 0, i, bank.count, nc, bank.flags[i] & 0xFF, bank.voltage_mv[i], t)
        for k in range(nc if nc < 16 else 16):
            struct.pack_into("<H", b, 8 + 2 * k, bank.cell_mv[i * MAX_CELLS + k])


def service(uuid):
    """The service for ``gatts_register_services`` (``uuid``: the ``bluetooth.UUID``
    class); its value handles come back in this order: live, codes, battery,
    session, command, result."""
    return (uuid(SERVICE_UUID), (
        (uuid(LIVE_UUID), _NOTIFY_SECURE),
        (uuid(CODES_UUID), _NOTIFY_SECURE),
        (uuid(BATTERY_UUID), _NOTIFY_SECURE),
        (uuid(SESSION_UUID), _READ_SECURE),
        (uuid(COMMAND_UUID), _WRITE_SECURE),
        (uuid(RESULT_UUID), _NOTIFY_SECURE),
    ))


def result(seq, status, text=""):
    """The result characteristic's value: ``seq | status | text`` (text cut to fit)."""
    body = text.encode()
    n = RESULT_MAX - 3
    if len(body) > n:
        while n > 0 and (body[n] & 0xC0) == 0x80:   # never inside a UTF-8 character
            n -= 1
        body = body[:n]
    return struct.pack("<HB", seq & 0xFFFF, status) + body


class Conn:
    """A connection slot: ``handle`` (-1 free), link security, session, last result."""

    def __init__(self):
        self.handle = -1
        self.encrypted = False
        self.authenticated = False
        self.bonded = False
        self.mtu = 23
        self.session = None
        self.result = b""

    def open(self, handle, token):  # a new connection (handle -1: the slot is freed)
        self.handle = handle
        self.encrypted = self.authenticated = self.bonded = False
        self.mtu = 23
        self.session = Session(token)
        self.result = b""


class Session:
    """One connection's command state: its token and the last accepted seq."""

    def __init__(self, token):
        self.token = bytes(token)
        self.last_seq = -1


def handle(data, session, authenticated, app):
    """Check and queue one command written by a client; return the result bytes.

    ``data``: the written bytes; ``session``: the connection's ``Session``;
    ``authenticated``: the link is encrypted after a PIN (passkey) pairing;
    ``app``: the ``bms.Bms`` (only its ``inbox`` and ``settings`` are used, read
    only: changes are posted to the inbox). Never raises: every refusal is a
    result with a status other than ``OK`` and nothing changed.
    """
    seq = data[4] | (data[5] << 8) if len(data) >= 6 else 0
    if not authenticated:
        return result(seq, NOT_AUTHENTICATED, "pair with the PIN first")
    if len(data) < ENVELOPE:
        return result(seq, MALFORMED, "a command is token(4) seq(2) op(1) body")
    if bytes(data[0:4]) != session.token:
        return result(seq, BAD_SESSION, "read the session characteristic for this connection's token")
    if seq <= session.last_seq:
        return result(seq, REPLAYED, "seq %d is not above %d" % (seq, session.last_seq))
    op = data[6]
    body = bytes(data[ENVELOPE:])
    try:
        status, text = _run(op, body, app)
    except Exception as e:     # never let a client's bytes reach the radio's stack as an exception
        status, text = MALFORMED, "%s" % e
    if status == OK or status == REFUSED or status == UNKNOWN_OP or status == MALFORMED:
        session.last_seq = seq  # a seq is spent once the command was judged
    return result(seq, status, text)


def _post(app, cmd):
    try:
        app.inbox.post(cmd)
    except I.InboxFull as e:
        return BUSY, "%s" % e
    return OK, "queued"


def _run(op, body, app):
    s = app.settings
    if op == OP_GET:
        try:
            name = body.decode()
            return OK, json.dumps({name: s.get(name)})
        except (SettingsError, UnicodeError) as e:
            return REFUSED, "%s" % e
    if op == OP_LIST:
        if len(body) != 1:
            return MALFORMED, "the body is one byte: the page"
        names = ",".join(s.names())       # ASCII: a character is a byte
        return OK, names[body[0] * LIST_PAGE:(body[0] + 1) * LIST_PAGE]
    if op == OP_SET:
        try:
            values = json.loads(body)
        except (ValueError, UnicodeError):
            return MALFORMED, "the body is a JSON object of settings"
        if not isinstance(values, dict) or not values:
            return MALFORMED, "the body is a JSON object of settings"
        try:
            checked = s.check_update(values, app.inbox.pending_settings(defaults()))
        except SettingsError as e:
            return REFUSED, "%s" % e
        out = {}
        for name in values:
            out[name] = checked[name]
        return _post(app, (I.SETTINGS, out))
    if op == OP_SWITCH:
        if len(body) != 1 or body[0] > 1:
            return MALFORMED, "the body is one byte: 1 on, 0 off"
        return _post(app, (I.SOFT_SWITCH, body[0] == 1))
    if op == OP_CLEAR_HISTORY:
        if body:
            return MALFORMED, "no body"
        return _post(app, (I.CLEAR_HISTORY,))
    if op == OP_RESET_ALARMS:
        if body:
            return MALFORMED, "no body"
        return _post(app, (I.RESET_ALARMS,))
    if op == OP_SET_PIN:
        try:
            pin = parse_pin(body)
        except (ValueError, UnicodeError) as e:
            return MALFORMED, "%s" % e
        return _post(app, (I.SET_PIN, pin))
    return UNKNOWN_OP, "operation %d is not known" % op
