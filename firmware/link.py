"""The BMS end of the M8 ring: the poll cycle (frame format: ``frame``).

The BMS sends a POLL frame with no records; each battery on the ring appends its
record, increments the hop counter and forwards the frame, so the frame that
returns holds every battery's record and the hop counter is the battery count.
A returning frame that fails any check of ``frame`` (or is not the answer to the
outstanding poll) is counted in ``LinkMaster.errors`` and dropped whole: the
decoded bank is swapped in only after the full frame validated. The format's
names are re-exported here for the link's users.
"""
from array import array
import binascii
from micropython import const

import bank as bank_mod
from frame import (  # noqa: F401  (the format's names, re-exported)
    SYNC0, SYNC1, VERSION, TYPE_POLL, HEADER_LEN, CRC_LEN, POLL_LEN, RECORD_FIXED_LEN,
    MAX_RECORD_LEN, MAX_PAYLOAD, MAX_FRAME, MAX_SERIES_POS, CRC_RESIDUE, CELL_MV_MAX, TEMP_DC_MIN,
    TEMP_DC_MAX, CURRENT_MA_MAX, CAPACITY_AH_MIN, CAPACITY_AH_MAX, FLAGS_DEFINED, SERIAL_HASH_MASK,
    POLL_MIN_MS, POLL_TIMEOUT_MS, ERR_CRC, ERR_VERSION, ERR_LENGTH, ERR_STALE, ERR_RECORD, ERR_TRUNCATED,
    ERR_NO_RESPONSE, ERR_SKIPPED_BYTES, ERR_TYPE, ERR_RANGE, ERROR_NAMES, DECODE_OK,
    crc32, build_poll, decode_records)
from ticks import ticks_diff

_CHUNK = const(256)     # bytes taken from the UART per readinto


class LinkMaster:
    """The BMS end of the ring: sends a POLL and decodes what returns.

    The next poll goes out as soon as the answer to the last one was accepted, or
    its rejected answer has ended (the line went quiet for a tick), but no sooner
    than ``POLL_MIN_MS`` after the last poll; without an answer, ``POLL_TIMEOUT_MS``
    after it (``no_response``). So the bank is read as fast as the wire allows
    (10 Hz for 20 x 4 cells at 115 200 baud, 3 Hz for 50 x 16) and never less than
    once a second while it answers.

    ``uart`` needs ``write(buf)``, ``any()`` and ``readinto(buf)`` (MicroPython's
    ``machine.UART``). Call ``service(now_ms)`` every control tick; it returns True
    when a new reading was accepted this call. ``bank`` is the latest accepted
    reading (``bank.count`` may be 0: the ring answered with no battery).
    ``implausible`` is True while the latest answer to a poll passed its CRC but
    held a value outside its physical range (``frame``), until a frame is accepted.
    ``has_reading`` is False until the first accepted frame. ``errors`` counts every
    rejected frame or byte by cause (``ERROR_NAMES``); ``frames_ok`` the accepted.
    """

    def __init__(self, uart):
        self.uart = uart
        self.bank = bank_mod.Bank()
        self._staging = bank_mod.Bank()
        # Room for the longest frame, some noise before it, and one whole chunk
        # past the end (see _receive).
        self.rx = bytearray(MAX_FRAME + 256 + _CHUNK)
        self._rxmv = memoryview(self.rx)
        # The CRC check's view of rx, kept while frames arrive at the same place
        # with the same length (see _crc_ok).
        self._crc_view = self._rxmv[0:0]
        self._crc_start = 0
        self._crc_stop = 0
        self._chunk = bytearray(_CHUNK)    # readinto target: a slice at an offset would allocate
        self.rx_len = 0
        self.tx = bytearray(POLL_LEN)
        self.seq = 0                    # the latest poll's sequence number
        self.bank_seq = 0               # the sequence of the poll that ``bank`` answered
        self.awaiting = False
        self._last_poll_ms = 0
        self._polled = False
        self._rejected = False          # a frame was rejected since the last poll
        self._quiet = True              # no byte arrived in this service call
        self.frames_ok = 0
        self.has_reading = False
        self.implausible = False        # the latest answer held an impossible value
        self.errors = array("I", bytes(4 * len(ERROR_NAMES)))

    def service(self, now_ms):
        """Read what arrived, decode complete frames, send the next poll when due."""
        fresh = self._receive()
        if not self._polled:
            self._send_poll(now_ms)
            return fresh
        since = ticks_diff(now_ms, self._last_poll_ms)
        if since >= POLL_TIMEOUT_MS:
            self._send_poll(now_ms)
        elif since >= POLL_MIN_MS:
            if not self.awaiting:
                self._send_poll(now_ms)
            elif self._rejected and self._quiet:
                # The answer came back corrupt and nothing more arrived for a tick:
                # ask again now instead of waiting out the timeout (no_response).
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
        self._rejected = False
        self._polled = True
        self._last_poll_ms = now_ms

    def _receive(self):
        rx = self.rx
        chunk = self._chunk
        self._quiet = True
        while self.uart.any():
            got = self.uart.readinto(chunk)
            if not got:
                break
            self._quiet = False
            if self.rx_len + got > len(rx) - _CHUNK:
                # Longer than any valid frame can be: drop what is held.
                self.errors[ERR_SKIPPED_BYTES] += self.rx_len
                self.rx_len = 0
            j = self.rx_len
            # The whole chunk, copied in C: a memoryview slice assigned from a buffer
            # of the same length allocates nothing (a byte loop here cost more than
            # decoding the frame). The bytes past ``got`` are left unread.
            self._rxmv[j:j + _CHUNK] = chunk
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
                self._rejected = True
                pos += 1
                continue
            plen = rx[pos + 6] | (rx[pos + 7] << 8)
            hop = rx[pos + 5]
            if plen > MAX_PAYLOAD or hop > bank_mod.MAX_BATTERIES or plen > hop * MAX_RECORD_LEN:
                self.errors[ERR_LENGTH] += 1
                self._rejected = True
                pos += 1
                continue
            flen = HEADER_LEN + plen + CRC_LEN
            if end - pos < flen:
                break
            if not self._crc_ok(pos + 2, pos + flen):
                self.errors[ERR_CRC] += 1
                self._rejected = True
                pos += 1
                continue
            if self._accept(pos, plen, hop):
                fresh = True
            pos += flen
        if end - pos == 1 and rx[pos] != SYNC0:
            # A lone byte that cannot start a frame (the last byte of a rejected
            # frame, a glitch): skipped now, not held to be counted truncated.
            pos += 1
            self.errors[ERR_SKIPPED_BYTES] += 1
        if pos:
            # Keep the unread tail at the front. A byte loop: slicing memoryviews
            # would allocate two view objects each time (a noisy link does this often).
            remain = end - pos
            for k in range(remain):
                rx[k] = rx[pos + k]
            self.rx_len = remain
        return fresh

    def _crc_ok(self, start, stop):
        """True when ``rx[start:stop]`` (version .. the 4 CRC bytes) has a good CRC-32.

        crc32 over the covered bytes followed by their little-endian CRC-32 is the
        small int ``CRC_RESIDUE`` exactly when the stored CRC is right, so a good
        frame makes no big int (module docstring). ``binascii.crc32`` reads the
        memoryview in place, but slicing a memoryview allocates a small view
        object on MicroPython: one is made only when the frame's place or length
        differs from the last frame's (a change in battery count or a resync),
        not once per frame.
        """
        if start != self._crc_start or stop != self._crc_stop:
            self._crc_view = self._rxmv[start:stop]
            self._crc_start = start
            self._crc_stop = stop
        return binascii.crc32(self._crc_view) == CRC_RESIDUE

    def _accept(self, pos, plen, hop):
        rx = self.rx
        if rx[pos + 3] != TYPE_POLL:
            self.errors[ERR_TYPE] += 1
            self._rejected = True
            return False
        if not self.awaiting or rx[pos + 4] != self.seq:
            self.errors[ERR_STALE] += 1
            return False
        err = decode_records(rx, pos + HEADER_LEN, plen, hop, self._staging)
        if err != DECODE_OK:
            self.errors[err] += 1
            self._rejected = True
            # The CRC held: a battery really sent an impossible value. Its cells
            # cannot be trusted (E-B11), unlike a frame corrupted on the way.
            if err == ERR_RANGE:
                self.implausible = True
            return False
        self.bank, self._staging = self._staging, self.bank
        self.bank_seq = self.seq
        self.implausible = False
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
