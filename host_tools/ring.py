"""The batteries' side of the M8 ring, written independently of the firmware.

Uses ``struct`` and ``zlib.crc32`` (CRC-32, IEEE 802.3, stored little-endian), so
the firmware's hand-written decoder and its CRC check are checked against a second
implementation; both are checked against the hex vectors in docs/link-protocol.md.
"""
import struct
import zlib

SYNC = b"\xaa\x55"
VERSION = 2
TYPE_POLL = 1
HEADER = struct.Struct("<2sBBBBH")       # sync, version, type, seq, hop, payload length
CRC = struct.Struct("<I")                # CRC-32 over version .. end of payload
RECORD_FIXED = struct.Struct("<BB12sHHHiHBBB")
# rec_len, addr, serial, capacity_ah, fw_version, voltage_mv, current_ma, flags,
# series_pos, n_cells, n_temps; then n_cells x u16 mV, n_temps x i16 0.1 degC.


def crc32(data):
    return zlib.crc32(bytes(data)) & 0xFFFFFFFF


def frame(seq, records, version=VERSION, ftype=TYPE_POLL):
    """A complete frame carrying the already encoded ``records`` (list of bytes)."""
    return raw_frame(seq, len(records), b"".join(records), version, ftype)


def raw_frame(seq, hop, payload, version=VERSION, ftype=TYPE_POLL):
    """A frame with the given hop count and payload bytes, CRC computed."""
    body = HEADER.pack(SYNC, version, ftype, seq & 0xFF, hop, len(payload))[2:] + payload
    return SYNC + body + CRC.pack(crc32(body))


def poll(seq):
    return frame(seq, [])


def record(addr, serial, capacity_ah, fw_version, voltage_mv, current_ma, flags,
           series_pos, cells_mv, temps_dc):
    """Encode one battery record; values are clamped to their field ranges.

    Not to the physical ranges of docs/link-protocol.md: a simulated battery that
    reports, say, a 5.1 V cell sends it, and the BMS rejects the frame (``range``).
    """
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
    if len(data) < HEADER.size + CRC.size or data[:2] != SYNC:
        raise ValueError("not a frame")
    sync, ver, ftype, seq, hop, plen = HEADER.unpack_from(data)
    if len(data) != HEADER.size + plen + CRC.size:
        raise ValueError("length mismatch")
    (crc,) = CRC.unpack_from(data, HEADER.size + plen)
    if crc != crc32(data[2:HEADER.size + plen]):
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
        end = j + HEADER.size + plen + CRC.size
        if len(buf) < end:
            return frames, j
        frames.append(bytes(buf[j:end]))
        i = end
