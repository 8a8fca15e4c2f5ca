"""The batteries' side of the M8 ring, written independently of the firmware.

Uses ``struct`` and ``binascii.crc_hqx`` (CRC-16/CCITT-FALSE with init 0xFFFF), so
the firmware's hand-written decoder and CRC are checked against a second
implementation; both are checked against the hex vectors in docs/link-protocol.md.
"""
import binascii
import struct

SYNC = b"\xaa\x55"
VERSION = 1
TYPE_POLL = 1
HEADER = struct.Struct("<2sBBBBH")       # sync, version, type, seq, hop, payload length
RECORD_FIXED = struct.Struct("<BB12sHHHiHBBB")
# rec_len, addr, serial, capacity_ah, fw_version, voltage_mv, current_ma, flags,
# series_pos, n_cells, n_temps; then n_cells x u16 mV, n_temps x i16 0.1 degC.


def crc16(data):
    return binascii.crc_hqx(bytes(data), 0xFFFF)


def frame(seq, records, version=VERSION, ftype=TYPE_POLL):
    """A complete frame carrying the already encoded ``records`` (list of bytes)."""
    return raw_frame(seq, len(records), b"".join(records), version, ftype)


def raw_frame(seq, hop, payload, version=VERSION, ftype=TYPE_POLL):
    """A frame with the given hop count and payload bytes, CRC computed."""
    body = HEADER.pack(SYNC, version, ftype, seq & 0xFF, hop, len(payload))[2:] + payload
    return SYNC + body + struct.pack("<H", crc16(body))


def poll(seq):
    return frame(seq, [])


def record(addr, serial, capacity_ah, fw_version, voltage_mv, current_ma, flags,
           series_pos, cells_mv, temps_dc):
    """Encode one battery record; values are clamped to their field ranges."""
    ser = serial.encode()[:12].ljust(12, b"\x00")
    n = len(cells_mv)
    m = len(temps_dc)
    rlen = RECORD_FIXED.size + 2 * n + 2 * m
    head = RECORD_FIXED.pack(rlen, addr, ser, capacity_ah, fw_version,
                             _clamp(voltage_mv, 0, 65535), _clamp(current_ma, -2**31, 2**31 - 1),
                             flags, series_pos, n, m)
    cells = struct.pack("<%dH" % n, *[_clamp(v, 0, 65535) for v in cells_mv])
    temps = struct.pack("<%dh" % m, *[_clamp(t, -32768, 32767) for t in temps_dc])
    return head + cells + temps


def _clamp(v, lo, hi):
    v = int(round(v))
    return lo if v < lo else hi if v > hi else v


def parse(data):
    """Split one frame into (version, type, seq, hop, payload); raise ValueError if bad."""
    if len(data) < HEADER.size + 2 or data[:2] != SYNC:
        raise ValueError("not a frame")
    sync, ver, ftype, seq, hop, plen = HEADER.unpack_from(data)
    if len(data) != HEADER.size + plen + 2:
        raise ValueError("length mismatch")
    (crc,) = struct.unpack_from("<H", data, HEADER.size + plen)
    if crc != crc16(data[2:HEADER.size + plen]):
        raise ValueError("bad CRC")
    return ver, ftype, seq, hop, bytes(data[HEADER.size:HEADER.size + plen])


def decode_records(payload, hop):
    """Decode records into dicts (for tests and the docs' vectors)."""
    out = []
    i = 0
    for _ in range(hop):
        f = RECORD_FIXED.unpack_from(payload, i)
        rlen, addr, ser, cap, fw, mv, ma, flags, spos, n, m = f
        j = i + RECORD_FIXED.size
        cells = list(struct.unpack_from("<%dH" % n, payload, j))
        temps = list(struct.unpack_from("<%dh" % m, payload, j + 2 * n))
        out.append({"addr": addr, "serial": ser.rstrip(b"\x00").decode(), "capacity_ah": cap,
                    "fw_version": fw, "voltage_mv": mv, "current_ma": ma, "flags": flags,
                    "series_pos": spos, "cells_mv": cells, "temps_dc": temps})
        i += rlen
    return out


def forward(data, rec):
    """What one battery does: append its record ``rec`` to the frame ``data``.

    The battery's address is the hop count it received plus one. Returns the new
    frame, or None if the incoming frame was bad (a battery drops bad frames).
    """
    try:
        ver, ftype, seq, hop, payload = parse(data)
    except ValueError:
        return None
    if ver != VERSION:
        return None
    return raw_frame(seq, hop + 1, payload + rec(hop + 1), ver, ftype)


def split_stream(buf):
    """Find complete frames in ``buf`` (bytearray); return (frames, bytes consumed)."""
    frames = []
    i = 0
    while True:
        j = buf.find(SYNC, i)
        if j < 0:
            return frames, max(i, len(buf) - 1)
        if len(buf) - j < HEADER.size:
            return frames, j
        plen = struct.unpack_from("<H", buf, j + 6)[0]
        end = j + HEADER.size + plen + 2
        if len(buf) < end:
            return frames, j
        frames.append(bytes(buf[j:end]))
        i = end
