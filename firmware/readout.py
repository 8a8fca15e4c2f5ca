"""Instant Readout: the live data broadcast in the BLE advertisement.

Builds the 31-byte advertising data (flags AD + manufacturer data of company
0x02E1) that decoders read without a connection: record 0x0A (BMS) from the
status record and record 0x05 (a battery's cells) in turns (``Readout.next``).
Format: instant-readout.md; the fields' sources: docs/ble.md.

AES-128-CTR with the device key; counter block = nonce (LE) + 14 zero bytes; the
keystream is one ``cryptolib`` ECB block (stock ESP32 builds have no CTR mode).
The nonce advances whenever the plaintext or record type changes, never otherwise.

Allocation-free after construction: buffers are preallocated and fields are
packed with small-int arithmetic (no field is wider than 20 bits).
"""
from micropython import const

import cryptolib

import codes as C
from bank import MAX_CELLS, MAX_TEMPS

COMPANY_ID = const(0x02E1)     # instant-readout.md: little-endian E1 02
RECORD_BMS = const(0x0A)       # BMS with battery monitor (the main record)
RECORD_BATTERY = const(0x05)   # lithium battery: 8 cells, balancer
ADV_LEN = const(31)            # legacy advertising data: 3 (flags) + 28 (manufacturer data)
PAYLOAD_LEN = const(16)        # 127 bits -> 16 bytes, both records
_NONCE_AT = const(12)
_RECORD_AT = const(11)
_MODEL_AT = const(9)
_KEY_CHECK_AT = const(14)      # byte 7 of the manufacturer payload: the key's first byte
_CIPHER_AT = const(15)
_ECB = const(1)                # cryptolib mode: pass the integer (instant-readout.md)

# Record 0x0A's IO status bits: this project's assignment (docs/ble.md).
IO_ATC = const(1)
IO_ATD = const(2)
IO_PRE_ALARM = const(4)
IO_REMOTE_ON = const(8)
IO_ALTERNATOR = const(16)
IO_SYSTEM_CHARGE = const(32)
IO_SYSTEM_DISCHARGE = const(64)
IO_SOFT_ON = const(128)

# Record 0x05's BMS flags: ATC bit 25, ATD bit 26, in the field's upper 16-bit half.
_BMS_ATC_HI = const(1 << 9)    # bit 25
_BMS_ATD_HI = const(1 << 10)   # bit 26

# balancer.* (unknown, balanced, imbalanced, balancing) -> 0 unknown, 1 balanced, 2 balancing, 3 imbalance.
_BALANCER = b"\x00\x01\x03\x02"

_ERRORS = bytes([C.error_number(cid) for cid in range(C.N_CODES)])


def _put(buf, pos, width, value):
    # Pack ``value`` (0 <= value < 2**width, width <= 24) LSB-first at bit ``pos``.
    while width > 0:
        sh = pos & 7
        n = 8 - sh
        if n > width:
            n = width
        buf[pos >> 3] |= (value & ((1 << n) - 1)) << sh
        value >>= n
        pos += n
        width -= n


def _round_div(a, b):
    # a / b rounded to nearest, halves away from zero (integers only).
    if a >= 0:
        return (a + b // 2) // b
    return -((-a + b // 2) // b)


def _clamp(v, lo, hi):
    return lo if v < lo else (hi if v > hi else v)


def _temp_raw(dc):
    # 0.1 degC -> the records' 7-bit temperature (degC + 40; 0x7F is "not available").
    return _clamp(_round_div(dc, 10) + 40, 0, 0x7E)


def cell_raw(mv):
    """One cell of record 0x05: V = (260 + raw) / 100; 0 means below 2.61 V,
    0x7E above 3.85 V (instant-readout.md)."""
    raw = _round_div(mv, 10) - 260
    if raw < 1:
        return 0
    return 0x7E if raw > 0x7D else raw


def alarm_reason(active):
    """The one alarm reason broadcast for the active codes (``bytearray`` per code
    id): the first alarm's in table order, else the first warning's, else 0. One
    at a time: decoders that read the field as an enum raise on combined bits."""
    first_warning = 0
    for cid in range(C.N_CODES):
        if active[cid]:
            r = C.TABLE[cid][12]
            if r:
                if C.TABLE[cid][1] == C.SEVERITY_ALARM:
                    return r
                if not first_warning:
                    first_warning = r
    return first_warning


def error_byte(active):
    """The record's error byte: the number of the first active error code in table
    order (E-B11 -> 11), 0 for none."""
    for cid in range(C.N_CODES):
        if active[cid] and _ERRORS[cid]:
            return _ERRORS[cid]
    return 0


def io_status(st):
    """Record 0x0A's IO status bits (``IO_*``) from the status record."""
    io = 0
    if st.allowed[C.PORT_ATC]:
        io |= IO_ATC
    if st.allowed[C.PORT_ATD]:
        io |= IO_ATD
    if st.pre_alarm_out:
        io |= IO_PRE_ALARM
    if st.remote_on:
        io |= IO_REMOTE_ON
    if st.alternator_on:
        io |= IO_ALTERNATOR
    if st.system_charge:
        io |= IO_SYSTEM_CHARGE
    if st.system_discharge:
        io |= IO_SYSTEM_DISCHARGE
    if st.soft_on:
        io |= IO_SOFT_ON
    return io


class Readout:
    """The advertisement of one device.

    ``key``: the 16-byte advertisement key (bytes); ``model_id``: 0..65535 (the
    ``ble_model_id`` setting); ``nonce``: the first nonce (random at boot, so a
    restart does not reuse the last run's nonces from 0).

    ``adv`` (bytearray of ``ADV_LEN``) always holds a complete advertisement;
    ``nonce`` the nonce in it; ``record`` its record type. Raises ``ValueError``
    for a key that is not 16 bytes.
    """

    def __init__(self, key, model_id=0, nonce=0):
        self.adv = bytearray(ADV_LEN)
        a = self.adv
        a[0] = 2          # flags AD: LE general discoverable, BR/EDR not supported
        a[1] = 0x01
        a[2] = 0x06
        a[3] = 27         # manufacturer data AD: type, company id and 24 bytes
        a[4] = 0xFF
        a[5] = COMPANY_ID & 0xFF
        a[6] = COMPANY_ID >> 8
        a[7] = 0x10       # product advertisement
        a[8] = 0x00
        self._plain = bytearray(PAYLOAD_LEN)
        self._sent = bytearray(PAYLOAD_LEN + 1)   # record type + plaintext on air
        self._ctr = bytearray(16)
        self._stream = bytearray(16)
        self.nonce = nonce & 0xFFFF
        self.record = 0
        self.changes = 0           # times the payload changed (and the nonce advanced)
        self._slot = 0
        self._battery = 0
        self.set_key(key)
        self.set_model(model_id)
        self._sent[0] = 0xFF       # nothing sent: the first build always seals

    def set_key(self, key):
        if len(key) != 16:
            raise ValueError("the advertisement key is 16 bytes, not %d" % len(key))
        self._aes = cryptolib.aes(bytes(key), _ECB)
        self.adv[_KEY_CHECK_AT] = key[0]
        self._sent[0] = 0xFF       # re-seal with the new key

    def set_model(self, model_id):
        self.adv[_MODEL_AT] = model_id & 0xFF
        self.adv[_MODEL_AT + 1] = (model_id >> 8) & 0xFF

    def next(self, st, cells=True):
        """Build the next slot's advertisement from ``st`` (``status.Status``):
        record 0x0A in every even slot; in odd slots record 0x05 of the next
        battery in turn when ``cells`` and the bank has batteries, else 0x0A
        again. Return True when ``adv`` changed."""
        self._slot ^= 1
        bank = st.bank
        if self._slot and cells and bank is not None and bank.count:
            if self._battery >= bank.count:
                self._battery = 0
            self.battery(st, self._battery)
            self._battery += 1
            return self._seal(RECORD_BATTERY)
        self.bms(st)
        return self._seal(RECORD_BMS)

    def bms(self, st):
        """Pack record 0x0A from ``st`` into the plaintext buffer (not sealed)."""
        p = self._plain
        for i in range(PAYLOAD_LEN):
            p[i] = 0
        active = st.active
        _put(p, 0, 8, error_byte(active))
        ttg = st.ttg_min
        _put(p, 8, 16, 0xFFFF if ttg < 0 else (ttg if ttg < 0xFFFE else 0xFFFE))
        bank = st.bank
        if bank is None:
            _put(p, 24, 16, 0x7FFF)
            t = 0x7F
        else:
            _put(p, 24, 16, _clamp(_round_div(bank.bank_mv, 10), 0, 0x7FFE))
            t = _temp_raw(bank.temp_max_dc)
        if st.current_known:
            _put(p, 40, 16, _clamp(_round_div(st.current_ma, 100), -0x7FFE, 0x7FFE) & 0xFFFF)
        else:
            _put(p, 40, 16, 0x7FFF)
        _put(p, 56, 16, io_status(st))
        _put(p, 72, 18, alarm_reason(active))
        soc = st.soc_pct10
        if soc < 0:
            _put(p, 90, 10, 0x3FF)
            _put(p, 100, 20, 0xFFFFF)
        else:
            _put(p, 90, 10, soc if soc < 1000 else 1000)
            _put(p, 100, 20, _clamp(_round_div(-st.consumed_mah, 100), 0, 0xFFFFE))
        _put(p, 120, 7, t)
        _put(p, 127, 1, 1)       # unused trailing bit

    def battery(self, st, i):
        """Pack record 0x05 for battery ``i`` of ``st.bank`` (cells 1..8, its own
        voltage and hottest sensor, the bank's balancer state, the bank's ATC and
        ATD, the battery's own flag bits) into the plaintext buffer."""
        p = self._plain
        for k in range(PAYLOAD_LEN):
            p[k] = 0
        bank = st.bank
        hi = 0
        if st.allowed[C.PORT_ATC]:
            hi |= _BMS_ATC_HI
        if st.allowed[C.PORT_ATD]:
            hi |= _BMS_ATD_HI
        _put(p, 16, 16, hi)
        _put(p, 32, 16, bank.flags[i] & 0xFFFF)
        n = bank.n_cells[i]
        base = i * MAX_CELLS
        for k in range(8):
            _put(p, 48 + 7 * k, 7, cell_raw(bank.cell_mv[base + k]) if k < n else 0x7F)
        v = _round_div(bank.voltage_mv[i], 10)
        _put(p, 104, 12, v if v <= 0xFFE else 0xFFF)   # 12 bits end at 40.94 V
        _put(p, 116, 4, _BALANCER[st.balancer] if st.balancer < 4 else 0)
        nt = bank.n_temps[i]
        if nt:
            tb = i * MAX_TEMPS
            t = bank.temp_dc[tb]
            for k in range(1, nt):
                if bank.temp_dc[tb + k] > t:
                    t = bank.temp_dc[tb + k]
            _put(p, 120, 7, _temp_raw(t))
        else:
            _put(p, 120, 7, 0x7F)
        _put(p, 127, 1, 1)

    def _seal(self, record):
        # Encrypt the plaintext into ``adv`` if it (or the record type) changed.
        p = self._plain
        sent = self._sent
        same = sent[0] == record
        if same:
            for i in range(PAYLOAD_LEN):
                if sent[i + 1] != p[i]:
                    same = False
                    break
        if same:
            return False
        sent[0] = record
        for i in range(PAYLOAD_LEN):
            sent[i + 1] = p[i]
        self.nonce = (self.nonce + 1) & 0xFFFF
        self.changes += 1
        self.record = record
        ctr = self._ctr
        ctr[0] = self.nonce & 0xFF
        ctr[1] = self.nonce >> 8
        self._aes.encrypt(ctr, self._stream)
        a = self.adv
        a[_RECORD_AT] = record
        a[_NONCE_AT] = ctr[0]
        a[_NONCE_AT + 1] = ctr[1]
        s = self._stream
        for i in range(PAYLOAD_LEN):
            a[_CIPHER_AT + i] = p[i] ^ s[i]
        return True
