"""bmsctl: the BMS's command line (filled in by issue 11)."""
import sys


def main(argv=None):
    print("bmsctl: no subcommands yet", file=sys.stderr)
    return 2
