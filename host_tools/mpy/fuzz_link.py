"""Fuzzing the link's decoder: seeded, portable (CPython and MicroPython).

``run(cases, seed)`` drives one ``link.LinkMaster`` through ``cases`` poll
cycles. Each cycle it polls, then the ring "answers" with bytes of one class:

- ``valid``: a well-formed answer (must be accepted, exactly as sent);
- ``random``: random bytes; ``truncated``: an answer cut short;
- ``bitflip``: one bit flipped; ``burst``: a burst of 2..32 bits flipped;
- ``reordered``: an answer cut in pieces and shuffled;
- ``duplicated``: the same answer twice (the first is accepted, the copy is stale);
- ``spliced``: the head of one answer and the tail of another;
- ``garbage``: bytes without a sync byte around a valid answer (accepted);
- ``sync_garbage``: garbage that may hold sync bytes around a valid answer
  (a fake header can hide it until the next poll: counted, not a failure);
- ``oversized``: a header claiming a too-long payload or too many batteries,
  then a valid answer (accepted);
- ``malformed``: a correct CRC around a record that breaks the format or a
  physical range (refused; a range error marks the link implausible).

Every case checks that the link never raises, never accepts an answer that is
not one the ring sent whole, never holds a value outside its physical range,
and never changes the stored bank on a rejection. Returns a dict: ``cases``,
``crashes``, ``accepted_corrupt``, ``valid_refused``, ``bank_changed_on_reject``,
``out_of_range``, ``per_class`` ({class: {"cases", "accepted", "failures"}}),
``first_failures`` (up to 5 descriptions).
"""
import random

import bank as B
import link as L
import mp_ring

CLASSES = ("valid", "random", "truncated", "bitflip", "burst", "reordered", "duplicated", "spliced", "garbage",
           "sync_garbage", "oversized", "malformed")
# Classes whose answer must be accepted (and exactly as sent).
MUST_ACCEPT = ("valid", "duplicated", "garbage", "oversized")
# Classes whose bytes hold no answer the ring sent whole: nothing may be accepted
# (a splice or a shuffle that happens to rebuild an answer is that answer).
MUST_REFUSE = ("random", "truncated", "bitflip", "burst", "spliced", "malformed")


class FuzzUart:
    """The ring's end of the UART: bytes put in ``feed`` come back to the link."""

    def __init__(self):
        self.inbound = bytearray()
        self.sent = 0

    def write(self, buf):
        self.sent += 1
        return len(buf)

    def any(self):
        return len(self.inbound)

    def readinto(self, buf):
        n = min(len(buf), len(self.inbound))
        buf[:n] = self.inbound[:n]
        self.inbound = self.inbound[n:]
        return n


def _r(n):
    return random.getrandbits(n)


def _below(n):
    return _r(16) % n


def _battery(addr, ncells):
    cells = [2500 + _below(1150) for _ in range(ncells)]
    temps = [-200 + _below(800) for _ in range(1 + _below(2))]
    ser = ("SN%04d" % (addr + 100 * _below(90))).encode()
    return (cells, temps, -50000 + _below(100000), 50 + _below(250), _below(2), ser)


def _record(addr, b):
    cells, temps, ma, cap, flags, ser = b
    return mp_ring.record(addr, cells, temps, serial=ser, current_ma=ma, capacity_ah=cap, flags=flags)


def _answer(seq):
    """A valid answer to poll ``seq``: (frame bytes, [battery tuples])."""
    n = 1 + _below(6)
    ncells = (4, 4, 8, 16)[_below(4)]
    bats = [_battery(i + 1, ncells) for i in range(n)]
    return bytes(mp_ring.frame(seq, [_record(i + 1, bats[i]) for i in range(n)])), bats


def _garbage(n, sync=False):
    out = bytearray(_r(8) for _ in range(n))
    for i in range(n):
        if not sync and out[i] == L.SYNC0:
            out[i] = 0x11
    return bytes(out)


def _flip(f, first, bits):
    f = bytearray(f)
    for k in range(bits):
        b = first + k
        f[b // 8] ^= 1 << (b % 8)
    return bytes(f)


def _malformed(seq):
    n = 1 + _below(3)
    bats = [_battery(i + 1, 4) for i in range(n)]
    recs = [bytearray(_record(i + 1, bats[i])) for i in range(n)]
    r = recs[_below(n)]
    kind = _below(8)
    hop = None
    if kind == 0:
        r[29] = 0xFF                      # cell 1 at 65 535 mV (the record layout: docs/link-protocol.md)
        r[30] = 0xFF
    elif kind == 1:
        r[0] = r[0] - 2                   # the record's own length disagrees with its counts
    elif kind == 2:
        hop = n + 1                       # the hop count says one battery more than sent
    elif kind == 3:
        r[1] = 9                          # a ring address out of order
    elif kind == 4:
        r[14] = 0                         # capacity 0 Ah
        r[15] = 0
    elif kind == 5:
        r[len(r) - 1] = 0x7F              # a temperature of +3 276.7 degC
        r[len(r) - 2] = 0xFF
    elif kind == 6:
        r[24] = 0xFC                      # undefined flag bits
    else:
        r[26] = 0                         # series position 0
    return bytes(mp_ring.frame(seq, recs, hop=hop)), kind


def _stream(cls, seq):
    """(bytes for the link, whether an answer must be accepted, the batteries of
    each answer the ring sent whole in them: an accepted reading must be one)."""
    if cls == "random":
        return _garbage(_below(600), True), False, []
    if cls == "malformed":
        return _malformed(seq)[0], False, []
    f, bats = _answer(seq)
    if cls == "valid":
        return f, True, [bats]
    if cls == "truncated":
        return f[:_below(len(f))], False, []
    if cls == "bitflip":
        return _flip(f, 16 + _below(8 * len(f) - 16), 1), False, []
    if cls == "burst":
        bits = 2 + _below(31)
        return _flip(f, 16 + _below(8 * len(f) - 16 - bits), bits), False, []
    if cls == "reordered":
        cut = [0] + sorted(_below(len(f)) for _ in range(3)) + [len(f)]
        parts = [f[cut[i]:cut[i + 1]] for i in range(4)]
        for i in range(3, 0, -1):
            j = _below(i + 1)
            parts[i], parts[j] = parts[j], parts[i]
        s = b"".join(parts)
        return s, s == f, [bats]
    if cls == "duplicated":
        return f + f, True, [bats]
    if cls == "spliced":
        # The head of one answer, the tail of another: when the tail's first bytes
        # happen to equal the head answer's, that answer is in the stream whole.
        g, gbats = _answer(seq)
        cut = 8 + _below(min(len(f), len(g)) - 8)
        return f[:cut] + g[cut:], False, [bats, gbats]
    if cls == "garbage":
        return _garbage(_below(200)) + f + _garbage(_below(200)), True, [bats]
    if cls == "sync_garbage":
        return _garbage(_below(200), True) + f + _garbage(_below(50), True), True, [bats]
    head = bytearray(8)                   # oversized
    head[0], head[1], head[2], head[3], head[4] = L.SYNC0, L.SYNC1, L.VERSION, L.TYPE_POLL, seq
    if _below(2):
        head[5], head[6], head[7] = 50, 0xFF, 0xFF            # a payload longer than any
    else:
        head[5], head[6], head[7] = 200, 0x40, 0x00           # more batteries than the ring can hold
    return bytes(head) + f, True, [bats]


def _snapshot(b):
    n = b.count
    return (id(b), n, sum(b.cell_mv[:n * B.MAX_CELLS]), sum(b.temp_dc[:n * B.MAX_TEMPS]),
            bytes(b.serial[:n * B.SERIAL_LEN]), sum(b.current_ma[:n]))


def _matches(b, bats):
    if b.count != len(bats):
        return False
    for i in range(len(bats)):
        cells, temps, ma, cap, flags, ser = bats[i]
        if b.n_cells[i] != len(cells) or b.n_temps[i] != len(temps):
            return False
        for k in range(len(cells)):
            if b.cell_mv[i * B.MAX_CELLS + k] != cells[k]:
                return False
        for k in range(len(temps)):
            if b.temp_dc[i * B.MAX_TEMPS + k] != temps[k]:
                return False
        if b.current_ma[i] != ma or b.capacity_ah[i] != cap or b.flags[i] != flags:
            return False
    return True


def _in_range(b):
    for i in range(b.count):
        for k in range(b.n_cells[i]):
            if b.cell_mv[i * B.MAX_CELLS + k] > L.CELL_MV_MAX:
                return False
        for k in range(b.n_temps[i]):
            t = b.temp_dc[i * B.MAX_TEMPS + k]
            if t < L.TEMP_DC_MIN or t > L.TEMP_DC_MAX:
                return False
        ma = b.current_ma[i]
        if ma > L.CURRENT_MA_MAX or ma < -L.CURRENT_MA_MAX:
            return False
        if not L.CAPACITY_AH_MIN <= b.capacity_ah[i] <= L.CAPACITY_AH_MAX or b.flags[i] & ~L.FLAGS_DEFINED:
            return False
    return True


def run(cases=1000, seed=1, classes=CLASSES):
    """Fuzz ``cases`` poll cycles, the classes in turn; returns the figures (module doc)."""
    random.seed(seed)
    uart = FuzzUart()
    lm = L.LinkMaster(uart)
    per = {}
    for c in classes:
        per[c] = {"cases": 0, "accepted": 0, "failures": 0}
    out = {"cases": 0, "crashes": 0, "accepted_corrupt": 0, "valid_refused": 0, "bank_changed_on_reject": 0,
           "out_of_range": 0, "sync_garbage_missed": 0, "first_failures": []}
    now = 0
    for i in range(cases):
        cls = classes[i % len(classes)]
        now += L.POLL_TIMEOUT_MS              # the next poll is due: send it
        lm.rx_len = 0
        uart.inbound = bytearray()
        fails = []
        try:
            lm.service(now)
            stream, must, allowed = _stream(cls, lm.seq)
            before = _snapshot(lm.bank)
            ok0 = lm.frames_ok
            uart.inbound = bytearray(stream)
            lm.service(now + 1)
            accepted = lm.frames_ok - ok0
        except Exception as e:                # the decoder must never raise
            out["crashes"] += 1
            fails.append("%s: raised %r" % (cls, e))
            accepted = 0
            must = False
            before = None
        if accepted:
            per[cls]["accepted"] += 1
            whole = False
            for bats in allowed:
                if _matches(lm.bank, bats):
                    whole = True
            if accepted > 1 or not whole:
                out["accepted_corrupt"] += 1
                fails.append("%s: accepted %d answer(s) the ring did not send whole" % (cls, accepted))
            if not _in_range(lm.bank):
                out["out_of_range"] += 1
                fails.append("%s: a value outside its physical range was stored" % cls)
        elif before is not None:
            if _snapshot(lm.bank) != before:
                out["bank_changed_on_reject"] += 1
                fails.append("%s: the stored bank changed although nothing was accepted" % cls)
            if must:
                if cls == "sync_garbage":
                    out["sync_garbage_missed"] += 1     # a fake header hid it: the next poll asks again
                else:
                    out["valid_refused"] += 1
                    fails.append("%s: a whole answer was refused" % cls)
        if fails:
            per[cls]["failures"] += 1
            if len(out["first_failures"]) < 5:
                out["first_failures"].append("case %d (seed %d): %s" % (i, seed, "; ".join(fails)))
        per[cls]["cases"] += 1
        out["cases"] += 1
    out["per_class"] = per
    out["link_errors"] = dict((L.ERROR_NAMES[k], lm.errors[k]) for k in range(len(L.ERROR_NAMES)))
    return out
