"""The old entry point of ``make flash|deploy|repl``, kept so existing commands
work: ``python -m host_tools.board_tool ARGS`` is ``bmsctl ARGS``
(``host_tools/bmsctl.py``, ``host_tools/board_cmds.py``)."""
import sys

from host_tools import bmsctl


def main(argv=None):
    return bmsctl.main(argv)


if __name__ == "__main__":
    sys.exit(main())
