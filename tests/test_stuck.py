"""A frozen cell reading (firmware/stuck.py): E-B11 when one cell's value never
changes while the other cells of its battery move; nothing at rest; gone the
moment the cell moves again (issue 12's fault matrix, docs/reliability.md)."""
import codes as C  # noqa: F401
import stuck  # noqa: F401  (the module under test)
from bmsutil import Battery, Rig, codes


def discharge(r, seconds, frozen=None, start=3350, per_s=0.1, battery=0):
    """Tick ``seconds`` with every cell of battery ``battery`` falling ``per_s``
    mV a second, except cell ``frozen`` (index), which keeps its first value."""
    t0 = r.t
    for n in range(seconds * 10):
        mv = int(start - per_s * (r.t - t0 + 100) / 1000)
        cells = [mv + k for k in range(4)]
        if frozen is not None:
            cells[frozen] = start + frozen
        r.batteries[battery].cells = tuple(cells)
        r.run_for(100)


def test_a_cell_frozen_while_the_others_move_is_e_b11():
    r = Rig(batteries=2, stuck_cell_s=120)
    r.run(2000)
    discharge(r, 300, frozen=2, per_s=0.25)      # the others fall 30 mV a window; cell 3 stays at 3 352 mV
    assert "E-B11" in codes(r.st) and not r.st.atc and not r.st.atd
    assert r.st.stuck_cell == 2 and r.app.stuck.count == 1
    import diag
    assert "  frozen reading: battery 1 cell 3 stuck at 3352 mV while the others moved (a failed sensor)" in \
        diag.code_lines(r.app)
    # The sensor recovers: the mark goes at once, E-B11 after battery_fault_clear_s.
    discharge(r, 8, start=3320)
    assert r.app.stuck.count == 0 and r.st.stuck_cell == -1
    assert "E-B11" not in codes(r.st)


def test_nothing_is_judged_at_rest_or_when_every_cell_moves():
    rest = Rig(stuck_cell_s=120)
    rest.run(300000)                             # 5 minutes, every cell constant
    assert codes(rest.st) == [] and rest.app.stuck.count == 0
    moving = Rig(stuck_cell_s=120)
    moving.run(2000)
    discharge(moving, 300, per_s=0.25)
    assert codes(moving.st) == [] and moving.app.stuck.count == 0


def test_a_frozen_cell_with_too_little_movement_is_not_judged():
    r = Rig(stuck_cell_s=120, stuck_cell_move_mv=20)
    r.run(2000)
    discharge(r, 300, frozen=0, per_s=0.05)      # 6 mV a 120 s window: under 20 mV a cell
    assert r.app.stuck.count == 0 and "E-B11" not in codes(r.st)


def test_a_new_battery_restarts_the_judgement():
    bats = [Battery(serial="A"), Battery(serial="B")]
    bats[1].present = False
    r = Rig(batteries=bats, stuck_cell_s=120)
    r.run(2000)
    discharge(r, 100, frozen=1)
    bats[1].present = True                       # a battery joins: the windows start again
    r.run_for(2000)
    assert r.app.stuck._n == 2 and r.app.stuck.count == 0


def test_one_cell_moving_while_the_others_stay_marks_nothing():
    # The test rigs' pattern (and a cell's own excursion): cell 2 falls 600 mV and
    # comes back while cells 1, 3 and 4 hold; none of them is the odd one out.
    r = Rig(stuck_cell_s=120)
    r.run(1000)
    for k in range(3000):
        r.set_cell(3300 - (k % 600))
        r.run_for(100)
    assert r.app.stuck.count == 0 and "E-B11" not in codes(r.st)


def test_two_frozen_cells_in_one_battery_are_not_told_from_rest():
    # The documented limit of the rule (docs/reliability.md): only one odd cell.
    r = Rig(stuck_cell_s=120)
    r.run(1000)
    t0 = r.t
    for n in range(3000):
        mv = int(3350 - 0.25 * (r.t - t0 + 100) / 1000)
        r.batteries[0].cells = (mv, 3351, 3352, mv + 3)
        r.run_for(100)
    assert r.app.stuck.count == 0


def test_movement_exactly_at_the_threshold_is_judged_and_one_millivolt_less_is_not():
    def run(total_mv):
        # Within the first window the three other cells fall ``total_mv`` together
        # (their sum), then hold; cell 1 (index 0) never changes.
        r = Rig(batteries=[Battery(cells=(3400, 3350, 3351, 3352))], stuck_cell_s=120, stuck_cell_move_mv=20)
        r.run(1000)
        for n in range(1300):
            d = min(max(n - 10, 0), 300) * total_mv // 300      # the sum's fall so far
            a, rest = d // 3, d % 3
            r.batteries[0].cells = (3400, 3350 - a - (rest > 0), 3351 - a - (rest > 1), 3352 - a)
            r.run_for(100)
        return r.app.stuck.count, codes(r.st)
    assert run(60) == (1, ["E-B11"])          # 20 mV per other cell: 3 x 20
    assert run(59) == (0, [])
