"""Run the firmware's own control loop against a simulated battery bank.

``python -m host_tools.sim SCENARIO [--trace FILE]``: the world (``world``:
bank, loads, chargers), faults that combine (``faults``), the runner that builds
the firmware as the board does and steps it on a virtual clock (``runner``), the
trace built from the firmware's status record with the truth beside it
(``trace``) and what a person sees (``console``). Scenario format:
docs/scenarios.md; trace fields: docs/trace.md.
"""
from .console import main
from .runner import DEFAULT_BOARD, START_TICKS_MS, Simulation
from .trace import SAMPLE_MS

__all__ = ("main", "Simulation", "DEFAULT_BOARD", "START_TICKS_MS", "SAMPLE_MS")
