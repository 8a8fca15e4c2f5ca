"""Shared fixtures: the firmware importable as on the board, with the pin mock."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import host_tools  # noqa: E402

host_tools.use_firmware("esp32")
# The portable helpers (MicroPython subset) serve the CPython tests too.
for _d in (os.path.join(ROOT, "tests", "portable"), os.path.join(ROOT, "host_tools", "mpy")):
    if _d not in sys.path:
        sys.path.insert(0, _d)


@pytest.fixture
def pin_mock():
    """A fresh pin mock (``machine``) for the ESP32 with a settable clock."""
    return host_tools.use_firmware("esp32")
