"""CPython stand-in for MicroPython's built-in ``micropython`` module.

The host harness puts this folder on ``sys.path`` so firmware files import it as
they import the built-in on the board. Only what the firmware uses is here.
"""


def const(value):
    return value
