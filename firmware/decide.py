"""Decide: active codes, startup and remote on/off -> each port's permission.

Every port (``codes.PORT_*``: ATC, ATD, alternator, System+ charge, System+
discharge) gets a reason mask: bit ``cid`` for each active code that withdraws
it (``codes.TABLE``), ``BIT_STARTUP`` before the first reading and
``BIT_REMOTE_OFF`` when remote on/off is OFF (behaviour §2: by default it opens
only the alternator and System+ ports; with ``remote_function`` = ``all_off``
every port). A port is allowed exactly when its mask is empty, so every
withdrawal carries its reasons. Writes ``status.reasons`` and ``status.allowed``;
no allocation.
"""
import codes as C


def decide(status, active, startup, remote_on, all_off, alt_tripped=False, sys_tripped=False, power_ok=True,
           updating=False):
    """Fill ``status.reasons[port]`` and ``status.allowed[port]`` (1 = allowed).

    ``active``: bytearray of active flags per code id; ``startup``: no reading
    with batteries since boot; ``remote_on``: terminal AND soft switch;
    ``all_off``: the "switch everything off" remote function;
    ``alt_tripped`` / ``sys_tripped``: that power port is open after a trip
    (A-A12 withdraws only the port that tripped: ``codes.F_PER_PORT``);
    ``power_ok``: the bank is a 12 V one, as the power ports need
    (``BIT_NOT_12V`` otherwise; docs/alternator.md); ``updating``: a firmware
    update is being staged: every charge path opens (``BIT_UPDATING``: ATC,
    the alternator port, System+ charge; behaviour §11, docs/update.md).
    """
    r0 = r1 = r2 = r3 = r4 = 0
    table = C.TABLE
    for cid in range(C.N_CODES):
        if active[cid]:
            w = table[cid][2]
            bit = 1 << cid
            if w & C.ATC:
                r0 |= bit
            if w & C.ATD:
                r1 |= bit
            if w & C.ALT:
                r2 |= bit
            if w & C.SYS_CHG:
                r3 |= bit
            if w & C.SYS_DIS:
                r4 |= bit
    if not power_ok:
        r2 |= C.BIT_NOT_12V
        r3 |= C.BIT_NOT_12V
        r4 |= C.BIT_NOT_12V
    trip = 1 << C.A_A12
    if alt_tripped:
        r2 |= trip
    if sys_tripped:
        r3 |= trip
        r4 |= trip
    if updating:
        r0 |= C.BIT_UPDATING
        r2 |= C.BIT_UPDATING
        r3 |= C.BIT_UPDATING
    s = C.BIT_STARTUP if startup else 0
    rem = 0 if remote_on else C.BIT_REMOTE_OFF
    rem_all = rem if all_off else 0          # ATC and ATD only with "switch everything off"
    r0 |= s | rem_all
    r1 |= s | rem_all
    r2 |= s | rem
    r3 |= s | rem
    r4 |= s | rem
    rs = status.reasons
    rs[0] = r0
    rs[1] = r1
    rs[2] = r2
    rs[3] = r3
    rs[4] = r4
    al = status.allowed
    for p in range(C.N_PORTS):
        al[p] = 1 if rs[p] == 0 else 0
