"""diag's number formats and power-port lines (firmware/diag_power.py)."""
from bmsutil import Rig


def test_number_formats():
    import diag_power as DP
    assert DP.fmt_v(13205) == "13.205"
    assert DP.fmt_c(-15) == "-1.5" and DP.fmt_c(253) == "25.3"
    assert DP.fmt_a(-1500) == "-1.500" and DP.fmt_a(7) == "0.007"


def test_power_lines_on_the_12_200_and_none_on_the_ng():
    import diag
    import diag_power as DP
    r = Rig()
    for t in range(0, 3000, 100):
        r.at(t)
    lines = DP.power_lines(r.app)
    assert lines == diag.power_lines(r.app)
    assert lines[0].startswith("power: lithium 13.200 V")
    assert any("System+" in line for line in lines)
    ng = Rig(profile="smallbms_ng")
    for t in range(0, 2000, 100):
        ng.at(t)
    assert not any(line.startswith("power:") for line in DP.power_lines(ng.app))
