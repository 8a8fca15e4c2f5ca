"""A frozen cell reading: one cell's value that never changes while the other
cells of its battery move (a failed sensor or a stuck measurement channel, the
frozen-sensor case battery-safety guides ask for). docs/reliability.md.

Judged in windows of ``stuck_cell_s``: at each window's start every cell's
value is kept; each complete, fresh reading marks the cells of one battery
(round robin, so a tick does a battery's worth of work) whose value differs
from it. At the window's end a cell never marked, when every other cell of its
battery was marked and their sum moved by ``stuck_cell_move_mv`` per other cell
or more, is frozen: the BMS
no longer knows that cell, and diagnosis raises E-B11 (``count`` > 0). The mark
goes the moment the cell's reading changes. A healthy cell follows its
neighbours by at least a millivolt over that much movement; at rest (nothing
moves) nothing is judged. One cell that moves while the others stay (a test
rig's, or a cell's own excursion) marks nothing: only the odd one out among
moving neighbours is frozen. Two frozen cells in one battery are not told from
a battery at rest by this rule (docs/reliability.md).

Memory grows with the bank (3 bytes a cell slot of the batteries present, made
when the bank's size changes); no allocation per tick.
"""
from array import array

from bank import MAX_CELLS


class StuckCells:
    """``update(dt, bank, fresh_complete)`` every tick; ``count`` frozen cells
    now, ``first`` the slot of one (battery index * ``MAX_CELLS`` + cell), or -1."""

    def __init__(self, settings):
        self.settings = settings
        self.count = 0
        self.first = -1
        self._n = -1                    # batteries the arrays are made for
        self._ms = 0                    # into the current window
        self._next = 0                  # the battery the next reading marks
        self._version = -1
        self._alloc(0)

    def _alloc(self, n):
        self._n = n
        self._snap = array("H", bytes(2 * n * MAX_CELLS))
        self._changed = bytearray(n * MAX_CELLS)
        self._frozen = bytearray(n * MAX_CELLS)
        self._lo = array("i", bytes(4 * n))
        self._hi = array("i", bytes(4 * n))
        self._started = False
        self.count = 0
        self.first = -1

    def update(self, dt, bank, fresh_complete):
        s = self.settings
        if self._version != s.version:
            self._window_ms = s.ms("stuck_cell_s")
            self._move_mv = s.get("stuck_cell_move_mv")
            self._version = s.version
        if self._ms < (1 << 28):       # saturates: a small int for ever (no allocation)
            self._ms += dt
        if bank is None or not fresh_complete:
            return
        if bank.count != self._n:
            self._alloc(bank.count)     # a battery came or went: judge afresh
        if not self._started:
            self._restart(bank)
            return
        i = self._next
        self._next = i + 1 if i + 1 < self._n else 0
        self._mark(bank, i)
        if self._ms >= self._window_ms:
            self._judge(bank)
            self._restart(bank)

    def _mark(self, bank, i):
        base = i * MAX_CELLS
        cells = bank.cell_mv
        snap = self._snap
        total = 0
        for k in range(bank.n_cells[i]):
            v = cells[base + k]
            total += v
            if v != snap[base + k]:
                self._changed[base + k] = 1
                if self._frozen[base + k]:
                    self._frozen[base + k] = 0      # it moves again: no longer frozen
                    self.count -= 1
                    if self.first == base + k:
                        self.first = self._any_frozen()
        if total < self._lo[i]:
            self._lo[i] = total
        if total > self._hi[i]:
            self._hi[i] = total

    def _judge(self, bank):
        for i in range(self._n):
            n = bank.n_cells[i]
            if n < 2 or self._hi[i] - self._lo[i] < self._move_mv * (n - 1):
                continue
            base = i * MAX_CELLS
            still = -1
            for k in range(n):
                if not self._changed[base + k]:
                    if still >= 0:
                        still = -2          # two or more did not move: the battery, not one sensor
                        break
                    still = k
            if still >= 0 and not self._frozen[base + still]:
                self._frozen[base + still] = 1
                self.count += 1
                if self.first < 0:
                    self.first = base + still

    def _restart(self, bank):
        cells = bank.cell_mv
        for i in range(self._n):
            base = i * MAX_CELLS
            total = 0
            for k in range(bank.n_cells[i]):
                v = cells[base + k]
                self._snap[base + k] = v
                self._changed[base + k] = 0
                total += v
            self._lo[i] = total
            self._hi[i] = total
        self._ms = 0
        self._started = True

    def _any_frozen(self):
        for j in range(len(self._frozen)):
            if self._frozen[j]:
                return j
        return -1
