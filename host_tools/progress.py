"""Progress bars (rich) for bmsctl's long work: flashing, deploying, simulating.

On a terminal they draw a bar; otherwise (a pipe, CI) they stay silent, so logs
hold only the lines that matter.
"""
import contextlib
import sys

from esptool.logger import TemplateLogger
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn


def _console():
    return Console(file=sys.stderr)


@contextlib.contextmanager
def bytes_bar(label, total):
    """A bar over ``total`` bytes; yields ``advance(n)``."""
    con = _console()
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=con, disable=not con.is_terminal) as p:
        task = p.add_task(label, total=total)
        yield lambda n: p.update(task, advance=n)


@contextlib.contextmanager
def time_bar(label, total_s):
    """A bar over ``total_s`` simulated seconds; yields ``at(t_s)``."""
    con = _console()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
                  TimeRemainingColumn(), console=con, disable=not con.is_terminal, transient=True) as p:
        task = p.add_task(label, total=total_s)
        yield lambda t_s: p.update(task, completed=t_s)


class EsptoolLogger(TemplateLogger):
    """esptool's messages as plain lines and its progress as a rich bar;
    remembers the last error for a one-line report."""

    def __init__(self):
        self.con = _console()
        self.last_error = None
        self._progress = None
        self._task = None

    def print(self, *args, **kwargs):
        kwargs.pop("flush", None)
        end = kwargs.pop("end", "\n")
        text = " ".join(str(a) for a in args)
        if text.strip():
            self.con.print(text, end=end, highlight=False, markup=False)

    def note(self, message):
        self.print("note: " + message)

    def warning(self, message, suggestion=None):
        self.print("warning: " + message)

    def error(self, message, suggestion=None):
        self.last_error = message.strip().splitlines()[0] if message.strip() else message
        self.print("error: " + message)

    def stage(self, finish=False):
        pass

    def set_verbosity(self, verbosity):
        pass

    def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
        if self._progress is None:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f} %"),
                                      console=self.con, disable=not self.con.is_terminal)
            self._progress.start()
            self._task = self._progress.add_task(prefix.strip() or "writing", total=total_iters)
        self._progress.update(self._task, completed=cur_iter, total=total_iters)
        if cur_iter >= total_iters:
            self.close()

    def close(self):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
