"""The M8 ring link's frame format, version 2: constants, CRC-32, POLL, records.

Byte tables, worked hex examples and the reasons: docs/link-protocol.md. A
returning frame is used only if everything checks: sync, version, type, length,
CRC-32, each record's length and address, and every value within its physical
range (``decode_records``). ``link.LinkMaster`` runs the poll cycle on top.

CRC-32 on a 32-bit MicroPython port: ``binascii.crc32`` (C, reads a memoryview in
place, no copy) returns an unsigned int, a heap-allocated big int whenever the
value is 2**30 or more (3 times out of 4). The receive path therefore never looks
at the CRC value itself: it runs crc32 over the covered bytes *and* the 4 stored
CRC bytes, which gives the constant ``CRC_RESIDUE`` (0x2144DF1C, a small int)
exactly when the stored CRC is right. An accepted frame allocates no int; only a
rejected one may allocate the big int crc32 returned. (Splitting the value into
16-bit halves would not help: the big int is made inside crc32, and ``>>``/``&``
on it allocate more.) The POLL's CRC is assembled from bytes tabled at import
(see ``_poll_crc_table``), so sending a poll allocates nothing either.
"""
from array import array
import binascii
from micropython import const

import bank as bank_mod

SYNC0 = const(0xAA)
SYNC1 = const(0x55)
VERSION = const(2)
TYPE_POLL = const(0x01)
HEADER_LEN = const(8)
CRC_LEN = const(4)
POLL_LEN = const(12)            # header + CRC, no records
RECORD_FIXED_LEN = const(29)    # record bytes before the cell voltages
MAX_RECORD_LEN = const(29 + 2 * 16 + 2 * 4)
MAX_PAYLOAD = const(50 * (29 + 2 * 16 + 2 * 4))
MAX_FRAME = const(8 + 50 * (29 + 2 * 16 + 2 * 4) + 4)
MAX_SERIES_POS = const(16)
# crc32(covered bytes + their CRC-32, little-endian) for every correct frame.
CRC_RESIDUE = const(0x2144DF1C)

# Physical ranges of the record values (docs/link-protocol.md, "Ranges"): a value
# outside its range rejects the whole frame (``range``).
CELL_MV_MAX = const(5000)           # cell voltage 0 .. 5 000 mV
TEMP_DC_MIN = const(-400)           # -40.0 degC
TEMP_DC_MAX = const(1000)           # +100.0 degC
CURRENT_MA_MAX = const(2000000)     # battery current within +-2 000 A
CAPACITY_AH_MIN = const(1)
CAPACITY_AH_MAX = const(10000)
FLAGS_DEFINED = const(0x0003)       # bank.FLAG_BALANCING | bank.FLAG_FAULT
SERIAL_HASH_MASK = const(0xFFFFFF)  # Bank.serial_hash: 24 bits, always a small int

# The poll cycle (docs/link-protocol.md, "Poll timing"): the next poll goes out as
# soon as the answer to the last one was handled, but no sooner than
# POLL_MIN_MS after it; an answer not back within POLL_TIMEOUT_MS is given up.
POLL_MIN_MS = const(100)        # one control tick: a 20 x 4 bank reads at 10 Hz
POLL_TIMEOUT_MS = const(1000)   # the longest frame (50 x 16 cells, 4 sensors) takes 0.30 s

# Error counters, indexes into LinkMaster.errors. New names go at the end so the
# indexes keep their meaning.
ERR_CRC = const(0)
ERR_VERSION = const(1)
ERR_LENGTH = const(2)
ERR_STALE = const(3)
ERR_RECORD = const(4)
ERR_TRUNCATED = const(5)
ERR_NO_RESPONSE = const(6)
ERR_SKIPPED_BYTES = const(7)
ERR_TYPE = const(8)
ERR_RANGE = const(9)
ERROR_NAMES = ("crc", "version", "length", "stale", "record", "truncated",
               "no_response", "skipped_bytes", "type", "range")

DECODE_OK = const(-1)   # decode_records' result for a good payload


def crc32(buf, start, end):
    """CRC-32 (IEEE 802.3, as ``binascii.crc32``) of ``buf[start:end]``, unsigned.

    For tools and tests: it slices a memoryview and may return a big int, so the
    receive path does not use it (see the module docstring). Check value:
    ``crc32(b"123456789", 0, 9)`` is ``0xCBF43926``.
    """
    return binascii.crc32(memoryview(buf)[start:end])


def _poll_crc_table():
    """The POLL's CRC bytes, for building a poll without touching a big int.

    A POLL differs from another POLL only in its sequence byte, and for messages
    of one length CRC-32 is affine: crc(m ^ d) = crc(m) ^ crc(d) ^ crc(zeros). So
    crc(poll s) = crc(poll 0) ^ XOR over the set bits k of s of
    (crc(poll 1 << k) ^ crc(poll 0)). The table holds crc(poll 0) and the 8
    differences as 4 little-endian bytes each (36 bytes); XOR works byte by
    byte, so build_poll needs no int above 255. Big ints occur only here, at import.
    """
    hdr = bytearray(HEADER_LEN - 2)      # version, type, seq, hop 0, length 0
    hdr[0] = VERSION
    hdr[1] = TYPE_POLL
    table = bytearray(36)
    base = binascii.crc32(hdr)
    for k in range(9):
        if k == 0:
            c = base
        else:
            hdr[2] = 1 << (k - 1)
            c = binascii.crc32(hdr) ^ base
        for j in range(4):
            table[4 * k + j] = (c >> (8 * j)) & 0xFF
    return table


_POLL_CRC = _poll_crc_table()


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
    put_seq_crc(buf, HEADER_LEN, seq, _POLL_CRC)
    return POLL_LEN


def put_seq_crc(buf, at, seq, table):
    """Write at ``buf[at:at+4]`` the CRC of a frame whose sequence is ``seq``, from
    ``table`` (the CRC bytes at sequence 0, then per bit of the sequence the bytes
    it flips: 36 bytes, as ``_poll_crc_table`` makes). No int above 255."""
    for j in range(4):
        buf[at + j] = table[j]
    for k in range(8):
        if seq & (1 << k):
            o = 4 + 4 * k
            for j in range(4):
                buf[at + j] ^= table[o + j]


def decode_records(buf, start, plen, hop, out):
    """Decode ``hop`` records from ``buf[start:start+plen]`` into Bank ``out``.

    Returns ``DECODE_OK`` when every record is well formed (length, address,
    counts) and every value lies in its physical range; otherwise the error index
    to count: ``ERR_RECORD`` (malformed) or ``ERR_RANGE`` (a value out of range).
    On an error ``out`` holds garbage and must not be used. ``out.count`` and the
    aggregates are set only on success. Also fills ``out.serial_hash[n]``: a
    24-bit hash of the 12 serial bytes (h = h * 31 + byte, masked to 24 bits);
    the serial bytes are copied only when that hash differs from the one ``out``
    held at ``n``.

    The hot path of the control tick (docs/esp32-budget.md): the bytes are read
    inline rather than through helpers (a call costs more than the arithmetic on
    MicroPython), and the cell and temperature extremes are found while the
    values are stored, so the aggregates need no second pass over the cells.
    No allocation: every intermediate stays a small int (a current's top byte is
    checked to be 0x00 or 0xFF before its 32-bit value is assembled).
    """
    i = start
    end = start + plen
    cell_mv = out.cell_mv
    temp_dc = out.temp_dc
    serial = out.serial
    serial_hash = out.serial_hash
    max_cells = bank_mod.MAX_CELLS
    max_temps = bank_mod.MAX_TEMPS
    cmin = 0xFFFF
    cmax = -1
    cmin_at = 0
    cmax_at = 0
    tmin = 32767
    tmax = -32768
    for n in range(hop):
        if i >= end:
            return ERR_RECORD
        rlen = buf[i]
        if rlen < RECORD_FIXED_LEN or i + rlen > end:
            return ERR_RECORD
        if buf[i + 1] != n + 1:      # address = ring position, 1-based
            return ERR_RECORD
        ncells = buf[i + 27]
        ntemps = buf[i + 28]
        if ncells < 1 or ncells > max_cells or ntemps < 1 or ntemps > max_temps:
            return ERR_RECORD
        if rlen != RECORD_FIXED_LEN + 2 * ncells + 2 * ntemps:
            return ERR_RECORD
        spos = buf[i + 26]
        if spos < 1 or spos > MAX_SERIES_POS:
            return ERR_RECORD
        cap = buf[i + 14] | (buf[i + 15] << 8)
        if cap < CAPACITY_AH_MIN or cap > CAPACITY_AH_MAX:
            return ERR_RANGE
        mv = buf[i + 18] | (buf[i + 19] << 8)
        if mv > ncells * CELL_MV_MAX:
            return ERR_RANGE
        top = buf[i + 23]            # |current| <= 2 000 000 mA: top byte 0x00 or 0xFF
        if top == 0:
            ma = (buf[i + 22] << 16) | (buf[i + 21] << 8) | buf[i + 20]
        elif top == 0xFF:
            ma = ((buf[i + 22] << 16) | (buf[i + 21] << 8) | buf[i + 20]) - 0x1000000
        else:
            return ERR_RANGE
        if ma > CURRENT_MA_MAX or ma < -CURRENT_MA_MAX:
            return ERR_RANGE
        flags = buf[i + 24] | (buf[i + 25] << 8)
        if flags & ~FLAGS_DEFINED:
            return ERR_RANGE
        # The serial's hash, unrolled (a loop cost half the decoding of a 4-cell
        # record). Masking is deferred while the value stays below 2**30, which
        # gives the same 24 bits as masking every step, and never a big int.
        k = i + 2
        h = (((buf[k] * 31 + buf[k + 1]) * 31 + buf[k + 2]) * 31 + buf[k + 3]) * 31 + buf[k + 4]
        h = (h & SERIAL_HASH_MASK) * 31 + buf[k + 5]
        h = (h & SERIAL_HASH_MASK) * 31 + buf[k + 6]
        h = (h & SERIAL_HASH_MASK) * 31 + buf[k + 7]
        h = (h & SERIAL_HASH_MASK) * 31 + buf[k + 8]
        h = (h & SERIAL_HASH_MASK) * 31 + buf[k + 9]
        h = (h & SERIAL_HASH_MASK) * 31 + buf[k + 10]
        h = ((h & SERIAL_HASH_MASK) * 31 + buf[k + 11]) & SERIAL_HASH_MASK
        if h != serial_hash[n]:
            # Another battery at this place (or the first reading): its serial
            # is copied. The same hash is taken as the same battery, as link
            # health does when it looks for batteries that are new.
            s = n * bank_mod.SERIAL_LEN
            for k in range(k, k + bank_mod.SERIAL_LEN):
                serial[s] = buf[k]
                s += 1
            serial_hash[n] = h
        out.capacity_ah[n] = cap
        out.fw_version[n] = buf[i + 16] | (buf[i + 17] << 8)
        out.voltage_mv[n] = mv
        out.current_ma[n] = ma
        out.flags[n] = flags
        out.series_pos[n] = spos
        out.n_cells[n] = ncells
        out.n_temps[n] = ntemps
        j = i + RECORD_FIXED_LEN
        at = n * max_cells
        for at in range(at, at + ncells):
            v = buf[j] | (buf[j + 1] << 8)
            if v > CELL_MV_MAX:
                return ERR_RANGE
            cell_mv[at] = v
            if v < cmin:
                cmin = v
                cmin_at = at
            if v > cmax:
                cmax = v
                cmax_at = at
            j += 2
        at = n * max_temps
        for at in range(at, at + ntemps):
            t = buf[j] | (buf[j + 1] << 8)
            if t & 0x8000:
                t -= 0x10000
            if t < TEMP_DC_MIN or t > TEMP_DC_MAX:
                return ERR_RANGE
            temp_dc[at] = t
            if t < tmin:
                tmin = t
            if t > tmax:
                tmax = t
            j += 2
        i += rlen
    if i != end:
        return ERR_RECORD
    out.count = hop
    out.set_extremes(cmin, cmax, cmin_at, cmax_at, tmin, tmax)
    out.compute_aggregates(False)
    return DECODE_OK
