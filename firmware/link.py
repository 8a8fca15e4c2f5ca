"""The M8 ring link: frame format, CRC-16 and the BMS side of the poll cycle.

The BMS sends a POLL frame with no records; each battery on the ring appends its
record, increments the hop counter and forwards the frame, so the frame that
returns holds every battery's record and the hop counter is the battery count.
Byte tables, worked hex examples and the reasons are in docs/link-protocol.md.

A returning frame is used only if everything checks: sync, version, type, length,
CRC-16/CCITT-FALSE, the sequence number of the outstanding poll, each record's
length and address. Otherwise it is counted in ``LinkMaster.errors`` and dropped
whole: the decoded bank is swapped in only after the full frame validated.
"""
from array import array
from micropython import const

import bank as bank_mod
from ticks import ticks_diff

SYNC0 = const(0xAA)
SYNC1 = const(0x55)
VERSION = const(1)
TYPE_POLL = const(0x01)
HEADER_LEN = const(8)
CRC_LEN = const(2)
POLL_LEN = const(10)            # header + CRC, no records
RECORD_FIXED_LEN = const(29)    # record bytes before the cell voltages
MAX_RECORD_LEN = const(29 + 2 * 16 + 2 * 4)
MAX_PAYLOAD = const(50 * (29 + 2 * 16 + 2 * 4))
MAX_FRAME = const(8 + 50 * (29 + 2 * 16 + 2 * 4) + 2)
MAX_SERIES_POS = const(16)

POLL_INTERVAL_MS = const(1000)   # one bank reading a second (docs/link-protocol.md)

# Error counters, indexes into LinkMaster.errors.
ERR_CRC = const(0)
ERR_VERSION = const(1)
ERR_LENGTH = const(2)
ERR_STALE = const(3)
ERR_RECORD = const(4)
ERR_TRUNCATED = const(5)
ERR_NO_RESPONSE = const(6)
ERR_SKIPPED_BYTES = const(7)
ERR_TYPE = const(8)
ERROR_NAMES = ("crc", "version", "length", "stale", "record", "truncated",
               "no_response", "skipped_bytes", "type")


def _make_table():
    table = array("H", bytes(512))
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
        table[i] = crc
    return table


_CRC_TABLE = _make_table()


def crc16(buf, start, end):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0).

    ``buf[start:end]`` is read in place. Check value: ``crc16(b"123456789", 0, 9)``
    is ``0x29B1``. Returns an int in 0..0xFFFF.
    """
    crc = 0xFFFF
    table = _CRC_TABLE
    for i in range(start, end):
        crc = ((crc << 8) & 0xFF00) ^ table[((crc >> 8) ^ buf[i]) & 0xFF]
    return crc


def build_poll(buf, seq):
    """Write a POLL frame with sequence ``seq`` (0..255) into ``buf[0:POLL_LEN]``."""
    buf[0] = SYNC0
    buf[1] = SYNC1
    buf[2] = VERSION
    buf[3] = TYPE_POLL
    buf[4] = seq & 0xFF
    buf[5] = 0
    buf[6] = 0
    buf[7] = 0
    crc = crc16(buf, 2, HEADER_LEN)
    buf[8] = crc & 0xFF
    buf[9] = crc >> 8
    return POLL_LEN


def _u16(b, i):
    return b[i] | (b[i + 1] << 8)


def _i16(b, i):
    v = b[i] | (b[i + 1] << 8)
    return v - 0x10000 if v & 0x8000 else v


def _i32(b, i):
    # The top byte is sign-extended first so no intermediate leaves the 31-bit
    # small-int range of a 32-bit MicroPython port (that would allocate a bignum).
    hi = b[i + 3]
    if hi & 0x80:
        hi -= 256
    return (hi << 24) + (b[i + 2] << 16) + (b[i + 1] << 8) + b[i]


def decode_records(buf, start, plen, hop, out):
    """Decode ``hop`` records from ``buf[start:start+plen]`` into Bank ``out``.

    Returns True when every record is well formed (length, address, counts); on
    False ``out`` holds garbage and must not be used. ``out.count`` and the
    aggregates are set only on success.
    """
    i = start
    end = start + plen
    for n in range(hop):
        if i >= end:
            return False
        rlen = buf[i]
        if rlen < RECORD_FIXED_LEN or i + rlen > end:
            return False
        if buf[i + 1] != n + 1:      # address = ring position, 1-based
            return False
        ncells = buf[i + 27]
        ntemps = buf[i + 28]
        if ncells < 1 or ncells > bank_mod.MAX_CELLS or ntemps < 1 or ntemps > bank_mod.MAX_TEMPS:
            return False
        if rlen != RECORD_FIXED_LEN + 2 * ncells + 2 * ntemps:
            return False
        spos = buf[i + 26]
        if spos < 1 or spos > MAX_SERIES_POS:
            return False
        s = n * bank_mod.SERIAL_LEN
        for k in range(bank_mod.SERIAL_LEN):
            out.serial[s + k] = buf[i + 2 + k]
        out.capacity_ah[n] = _u16(buf, i + 14)
        out.fw_version[n] = _u16(buf, i + 16)
        out.voltage_mv[n] = _u16(buf, i + 18)
        out.current_ma[n] = _i32(buf, i + 20)
        out.flags[n] = _u16(buf, i + 24)
        out.series_pos[n] = spos
        out.n_cells[n] = ncells
        out.n_temps[n] = ntemps
        j = i + RECORD_FIXED_LEN
        base = n * bank_mod.MAX_CELLS
        for k in range(ncells):
            out.cell_mv[base + k] = _u16(buf, j)
            j += 2
        base = n * bank_mod.MAX_TEMPS
        for k in range(ntemps):
            out.temp_dc[base + k] = _i16(buf, j)
            j += 2
        i += rlen
    if i != end:
        return False
    out.count = hop
    out.compute_aggregates()
    return True


class LinkMaster:
    """The BMS end of the ring: sends a POLL every ``POLL_INTERVAL_MS`` and
    decodes what returns.

    ``uart`` needs ``write(buf)``, ``any()`` and ``readinto(buf)`` (MicroPython's
    ``machine.UART``). Call ``service(now_ms)`` every control tick; it returns True
    when a new reading was accepted this call. ``bank`` is the latest accepted
    reading (``bank.count`` may be 0: the ring answered with no battery).
    ``has_reading`` is False until the first accepted frame. ``errors`` counts every
    rejected frame or byte by cause (``ERROR_NAMES``); ``frames_ok`` the accepted.
    """

    def __init__(self, uart):
        self.uart = uart
        self.bank = bank_mod.Bank()
        self._staging = bank_mod.Bank()
        self.rx = bytearray(MAX_FRAME + 256)
        self._rxmv = memoryview(self.rx)
        self._chunk = bytearray(128)    # readinto target: a slice at an offset would allocate
        self.rx_len = 0
        self.tx = bytearray(POLL_LEN)
        self.seq = 0
        self.awaiting = False
        self._last_poll_ms = 0
        self._polled = False
        self.frames_ok = 0
        self.has_reading = False
        self.errors = array("I", bytes(4 * len(ERROR_NAMES)))

    def service(self, now_ms):
        """Read what arrived, decode complete frames, send the next poll when due."""
        fresh = self._receive()
        if not self._polled or ticks_diff(now_ms, self._last_poll_ms) >= POLL_INTERVAL_MS:
            self._send_poll(now_ms)
        return fresh

    def _send_poll(self, now_ms):
        if self.awaiting:
            self.errors[ERR_NO_RESPONSE] += 1
        if self.rx_len:
            # A partial frame left when its poll expired: truncated, never completed.
            self.errors[ERR_TRUNCATED] += 1
            self.rx_len = 0
        self.seq = (self.seq + 1) & 0xFF
        build_poll(self.tx, self.seq)
        self.uart.write(self.tx)
        self.awaiting = True
        self._polled = True
        self._last_poll_ms = now_ms

    def _receive(self):
        rx = self.rx
        chunk = self._chunk
        while self.uart.any():
            got = self.uart.readinto(chunk)
            if not got:
                break
            if self.rx_len + got > len(rx):
                # Longer than any valid frame can be: drop what is held.
                self.errors[ERR_SKIPPED_BYTES] += self.rx_len
                self.rx_len = 0
            j = self.rx_len
            for k in range(got):
                rx[j + k] = chunk[k]
            self.rx_len = j + got
        return self._parse()

    def _parse(self):
        rx = self.rx
        pos = 0
        fresh = False
        end = self.rx_len
        while end - pos >= 2:
            if rx[pos] != SYNC0 or rx[pos + 1] != SYNC1:
                pos += 1
                self.errors[ERR_SKIPPED_BYTES] += 1
                continue
            if end - pos < HEADER_LEN:
                break
            if rx[pos + 2] != VERSION:
                self.errors[ERR_VERSION] += 1
                pos += 1
                continue
            plen = rx[pos + 6] | (rx[pos + 7] << 8)
            hop = rx[pos + 5]
            if plen > MAX_PAYLOAD or hop > bank_mod.MAX_BATTERIES or plen > hop * MAX_RECORD_LEN:
                self.errors[ERR_LENGTH] += 1
                pos += 1
                continue
            flen = HEADER_LEN + plen + CRC_LEN
            if end - pos < flen:
                break
            crc_at = pos + HEADER_LEN + plen
            if crc16(rx, pos + 2, crc_at) != rx[crc_at] | (rx[crc_at + 1] << 8):
                self.errors[ERR_CRC] += 1
                pos += 1
                continue
            if self._accept(pos, plen, hop):
                fresh = True
            pos += flen
        if pos:
            remain = end - pos
            if remain:
                self._rxmv[0:remain] = self._rxmv[pos:end]
            self.rx_len = remain
        return fresh

    def _accept(self, pos, plen, hop):
        rx = self.rx
        if rx[pos + 3] != TYPE_POLL:
            self.errors[ERR_TYPE] += 1
            return False
        if not self.awaiting or rx[pos + 4] != self.seq:
            self.errors[ERR_STALE] += 1
            return False
        if not decode_records(rx, pos + HEADER_LEN, plen, hop, self._staging):
            self.errors[ERR_RECORD] += 1
            return False
        self.bank, self._staging = self._staging, self.bank
        self.awaiting = False
        self.has_reading = True
        self.frames_ok += 1
        return True

    def error_total(self):
        """All rejected frames (skipped bytes not counted)."""
        total = 0
        for i in range(len(ERROR_NAMES)):
            if i != ERR_SKIPPED_BYTES:
                total += self.errors[i]
        return total
