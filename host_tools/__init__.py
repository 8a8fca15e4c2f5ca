"""CPython host tools: pin mock, virtual clock, battery-bank simulator, command line.

``use_firmware(chip, clock)`` makes the firmware files importable exactly as the
board sees them: ``firmware/`` on ``sys.path``, the pin mock as ``machine`` and the
``micropython`` shim.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE_DIR = os.path.join(ROOT, "firmware")
BOARDS_DIR = os.path.join(ROOT, "boards")
SHIM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim")


def use_firmware(chip="esp32", clock=None):
    """Put the firmware on ``sys.path`` with the pin mock installed; return the mock."""
    for d in (SHIM_DIR, FIRMWARE_DIR):
        if d not in sys.path:
            sys.path.insert(0, d)
    from host_tools import pin_mock
    return pin_mock.install(chip, clock)


def board_path(name):
    """Path of ``boards/<name>.json``."""
    return os.path.join(BOARDS_DIR, name + ".json")
