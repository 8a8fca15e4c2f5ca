"""The per-battery lines of ``diag.status()``, printed piece by piece.

On the board the REPL shares the 56 KB heap with the control loop and Bluetooth:
a status of 50 batteries built as strings made 100 KB of garbage (issue 10).
Here every number is printed as ints and constant strings (``print`` of an int
allocates nothing), so a battery's line costs no heap at any bank size. The text
is the same as ``diag.bank_lines``'s battery lines.
"""
from bank import MAX_CELLS, MAX_TEMPS, SERIAL_LEN


def _digits3(f, end):
    # 0..999 with leading zeros
    if f < 100:
        print(0, end="")
    if f < 10:
        print(0, end="")
    print(f, end=end)


def print_milli(v, end):
    """``v`` thousandths (mV, mA) as units with 3 decimals: 13205 -> 13.205."""
    if v < 0:
        print("-", end="")
        v = -v
    print(v // 1000, end=".")
    _digits3(v % 1000, end)


def print_deci(v, end):
    """``v`` tenths (0.1 degC) with 1 decimal: -15 -> -1.5."""
    if v < 0:
        print("-", end="")
        v = -v
    print(v // 10, end=".")
    print(v % 10, end=end)


def print_battery(b, i):
    """Battery ``i`` of bank ``b`` (a ``bank.Bank``) on one line."""
    print("  #", end="")
    print(i + 1, end=" ")
    base = i * SERIAL_LEN
    n = SERIAL_LEN
    while n and b.serial[base + n - 1] in (0, 32):     # trailing NULs and spaces dropped
        n -= 1
    for k in range(n):
        print(chr(b.serial[base + k]), end="")
    print(" ", end="")
    print(b.capacity_ah[i], end="Ah fw ")
    fw = b.fw_version[i]
    print(fw >> 8, end=".")
    if fw & 0xFF < 10:
        print(0, end="")
    print(fw & 0xFF, end=" pos ")
    print(b.series_pos[i], end=": ")
    print_milli(b.voltage_mv[i], " V ")
    print_milli(b.current_ma[i], " A  cells [")
    nc = b.n_cells[i]
    for k in range(nc):
        print_milli(b.cell_mv[i * MAX_CELLS + k], " " if k < nc - 1 else "")
    print("]  T [", end="")
    nt = b.n_temps[i]
    for k in range(nt):
        print_deci(b.temp_dc[i * MAX_TEMPS + k], " " if k < nt - 1 else "")
    print("]  FAULT" if b.flags[i] & 2 else "]")
