"""A small crash log on the board's filesystem, shown by ``diag.crash_log()``.

``record(exc, path)`` appends the traceback of ``exc`` to ``path`` and keeps the
file under ``MAX_BYTES`` (oldest text dropped) so a crash loop cannot fill the
flash. Works on MicroPython (``sys.print_exception``) and CPython.
"""
import sys

MAX_BYTES = 4096
DEFAULT_PATH = "crash.log"


def _trim(path):
    # Keep room for the next traceback: drop the oldest text past half the budget.
    text = read(path)
    if len(text) > MAX_BYTES // 2:
        with open(path, "w") as f:
            f.write(text[len(text) - MAX_BYTES // 2:])


def record(exc, path=DEFAULT_PATH, uptime_ms=None):
    """Append ``exc``'s traceback to ``path``; never raises (a full flash is ignored)."""
    try:
        _trim(path)
        with open(path, "a") as f:
            f.write("--- crash%s\n" % ("" if uptime_ms is None else " at %d ms" % uptime_ms))
            if hasattr(sys, "print_exception"):
                sys.print_exception(exc, f)        # MicroPython
            else:
                import traceback
                traceback.print_exception(type(exc), exc, exc.__traceback__, file=f)
    except Exception:
        pass


def read(path=DEFAULT_PATH):
    """The log's text, or "" when there is none."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def clear(path=DEFAULT_PATH):
    try:
        import os
        os.remove(path)
    except OSError:
        pass
