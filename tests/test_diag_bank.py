"""diag.status() prints each battery piece by piece (firmware/diag_bank.py): the
same text as diag.bank_lines, and garbage that does not grow with the bank."""
import json

import pytest

from bmsutil import Battery, Rig
from host_tools import mpy_bridge


def _batteries():
    return [Battery(cells=(3300, 3301, 3302, 3303), temps=(215, -54), serial="SN1", current_ma=-12345),
            Battery(cells=tuple(3000 + 7 * k for k in range(16)), temps=(5,), serial="AB 12", current_ma=7,
                    flags=2, capacity_ah=280),
            Battery(cells=(3405, 3399, 3410, 3401, 3398, 3402, 3400, 3404), temps=(0, 1, 2), serial="X" * 12,
                    current_ma=250000)]


def test_the_printed_battery_lines_are_the_bank_lines(capsys):
    import diag
    import diag_bank
    r = Rig(batteries=_batteries())
    for t in range(0, 3000, 100):
        r.at(t)
    b = r.st.bank
    assert b is not None and b.count == 3
    want = diag.bank_lines(r.app)[2:]
    assert len(want) == 3
    capsys.readouterr()
    for i in range(b.count):
        diag_bank.print_battery(b, i)
    got = capsys.readouterr().out.splitlines()
    assert got == want
    assert "FAULT" in got[1] and "-5.4" in got[0] and "-12.345 A" in got[0]
    # status() prints the same lines in its bank section.
    diag.status(r.app)
    out = capsys.readouterr().out.splitlines()
    i = out.index(diag.bank_lines(r.app)[0])
    assert out[i:i + 5] == diag.bank_lines(r.app)


def test_number_printers(capsys):
    import diag_bank as D
    for v in (0, 5, 13205, -1500, 999, -7, 1000):
        D.print_milli(v, "|")
    for v in (0, -15, 253, 9, -1):
        D.print_deci(v, "|")
    assert capsys.readouterr().out == "0.000|0.005|13.205|-1.500|0.999|-0.007|1.000|0.0|-1.5|25.3|0.9|-0.1|"


PROBE = r'''
import gc, bench_workloads as W, mp_ring, diag
res = {}
for nb, nc, low in ((1, 4, False), (20, 4, False), (50, 16, False), (5, 4, True)):
    # More than 5 batteries: a smallBMS NG's bank (the 12/200 takes 5: models).
    app = W._boot(mp_ring.QuietUart(W._frame(nb, nc, low=low)), None, W.NG if nb > 5 else "smart_bms_12_200")
    W._measure(app, 1, 100, 400 if low else 30)     # low: W-B01, then A-B01 withdrawing ATD
    diag.status(app)                  # the first call imports diag_bank: not garbage
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    diag.status(app)
    res["%dx%d%s" % (nb, nc, "_alarm" if low else "")] = gc.mem_alloc() - a
    if low:
        assert app.status.active_codes() == ["W-B01", "A-B01"], app.status.active_codes()
    gc.enable()
print("@@" + json.dumps(res))
'''


@pytest.mark.skipif(not mpy_bridge.available(), reason="needs the WebAssembly MicroPython")
def test_status_garbage_does_not_grow_with_the_bank():
    """Under MicroPython: one diag.status() makes the same garbage with 1, 20 x 4
    and 50 x 16 cells (it was 27 KB at 20 x 4 and 100 KB at 50 x 16), at most
    2 KB (issue 10's goal), with alarms on the ports too."""
    mp = mpy_bridge.MicroPython()
    try:
        mp.load_firmware(extra=["host_tools/mpy/bench_workloads.py", "host_tools/mpy/mp_ring.py"])
        out = mp.run("import json\n" + PROBE)
    finally:
        mp.close()
    res = json.loads(out.split("@@")[-1])
    assert max(res.values()) <= 2048, res
    assert res["50x16"] - res["1x4"] <= 512, res


def _status_as_lines(app):
    import diag
    out = []
    for f in (diag.loop_lines, diag.bank_lines, diag.monitor_lines, diag.output_lines, diag.power_lines,
              diag.code_lines, diag.link_lines, diag.ble_lines):
        out += f(app)
    return out


def test_status_prints_exactly_the_lines_of_each_section(capsys):
    """The outputs, power, codes and link sections are printed piece by piece
    (no line strings: issue 10's garbage budget); the text is the same as the
    ``*_lines`` functions', here with codes active, reasons on the ports,
    link errors counted, a battery gone and a temperature sensor open."""
    import diag
    r = Rig(batteries=2, answer=lambda n: n % 7 != 0)
    r.run(2000)
    r.set_cell(2700)                               # W-B01, then A-B01: reasons on ATD
    r.set_power(bms_temp=-60)                      # the BMS NTC reads open: A-B15
    r.run(40000)
    r.batteries[1].present = False                 # W-B05 later
    r.run(45000)
    assert len(r.st.active_codes()) >= 3 and r.st.link_errors[6] > 0
    capsys.readouterr()
    diag.status(r.app)
    got = capsys.readouterr().out.splitlines()
    assert got == _status_as_lines(r.app)
    assert any("(" in line and "A-B01" in line for line in got if "load disconnect" in line)
