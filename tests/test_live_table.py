"""The live view of `make sim` fits an 80-column terminal: every row, with the
alternator and System+ ports, a long list of codes, and the run's progress."""
import io

from rich.console import Console as RichConsole

from host_tools.sim.console import live_lines, live_panel
from host_tools.sim.trace import empty_snapshot, record


def base(**changes):
    rec = record(1234500, empty_snapshot())
    rec.update(bank_v=13.204, current_a=-150.25, soc_pct=None, sim_soc_pct=45.94, cell_min_v=3.101,
               cell_max_v=3.205, sim_cell_min_v=3.1, sim_cell_max_v=3.2049, temp_min_c=20.1, atc=True, atd=False,
               pre_alarm=True, remote_on=True, link_answered_pct=98, codes=["W-B01", "A-B01"])
    rec.update(changes)
    return rec


def render(rec, duration_s=7200):
    c = RichConsole(width=80, record=True, file=io.StringIO(), color_system=None)
    c.print(live_panel("default", rec, duration_s))
    return c.export_text().splitlines()


def test_every_row_of_the_live_view_fits_80_columns():
    worst = base(codes=["W-B01", "W-B05", "W-B07", "A-B01", "A-B05", "A-B07", "A-B08", "A-B15", "A-A12", "E-B01",
                        "E-B05", "E-B09", "E-B11", "E-B31", "E-B32"], alternator_on=True, alternator_a=99.95,
                 alternator_limit_a=100.0, system_state="tripped", contactor=False, aux_output=True)
    for rec in (base(), worst):
        lines = render(rec)
        assert all(len(line) <= 80 for line in lines), lines
        text = "\n".join(lines)
        assert "default  1234 s of 7200 s" in text
        for code in rec["codes"]:
            assert code in text                          # folded onto a second line, never cut off


def test_the_rows_say_what_the_firmware_believes_beside_the_truth():
    rows = dict(live_lines(base(alternator_on=True, alternator_a=80.04, alternator_limit_a=80.0,
                                system_state="closed", system_discharge=True)))
    assert rows["bank"] == "13.20 V  -150.2 A  SoC unknown (true 45.9 %)"
    assert rows["cells"] == "3.101..3.205 V (true 3.100..3.205)  20.1 °C"
    assert rows["outputs"] == "ATC yes  ATD NO  pre-alarm ON  remote on"
    assert rows["ports"] == "alternator 80.0/80 A  System+ closed"
    assert rows["link"] == "98 % answered  codes: W-B01 A-B01"
    quiet = dict(live_lines(base(codes=[], system_state="open", alternator_state="off")))
    assert "ports" not in quiet and quiet["link"] == "98 % answered  codes: none"
