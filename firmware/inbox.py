"""The command inbox: how the REPL and Bluetooth (``gatt``) change the running BMS.

Other contexts never write the core's state: they ``post`` a command and the
control tick applies it with ``drain`` at a fixed point of the tick. Posting is
one ``list.append`` (atomic under MicroPython's and CPython's GIL); the tick pops
from the front. Commands are validated by the poster where they can be
(``settings.Settings.check``), and again when applied; an error while applying
is kept in ``last_error`` and changes nothing.

Commands (tuples): ``(SETTINGS, {name: value})``, ``(SOFT_SWITCH, bool)``,
``(SET_SOC, pct)``, ``(SYNCHRONISE,)``, ``(FACTORY_RESET,)``, ``(ACCEPT_BANK,)``,
``(RESET_ALARMS,)`` (a user action: releases latched under-voltage withdrawals),
``(CLEAR_HISTORY,)``, ``(SET_PIN, pin)`` (the Bluetooth pairing PIN, 0..999999),
``(UPDATING, bool)`` (a firmware update is being staged: no charging, update.py).
"""
from micropython import const

SETTINGS = const(1)
SOFT_SWITCH = const(2)
SET_SOC = const(3)
SYNCHRONISE = const(4)
FACTORY_RESET = const(5)
ACCEPT_BANK = const(6)
RESET_ALARMS = const(7)
CLEAR_HISTORY = const(8)
SET_PIN = const(9)
UPDATING = const(10)
MAX_PENDING = const(16)


class InboxFull(RuntimeError):
    """More than ``MAX_PENDING`` commands wait: the control loop is not running."""


class Inbox:
    def __init__(self):
        self._q = []
        self.applied = 0          # commands applied since boot
        self.last_error = None    # str of the last command that failed, or None

    def post(self, cmd):
        """Queue ``cmd`` (a tuple) for the next tick; ``InboxFull`` if too many wait."""
        if len(self._q) >= MAX_PENDING:
            raise InboxFull("%d commands are waiting: is the control loop running?" % len(self._q))
        self._q.append(cmd)

    def pending(self):
        return len(self._q)

    def pending_settings(self, defaults):
        """The setting changes still waiting, merged into one dict (a poster
        checks a new change against them, as the tick will apply it after them);
        a waiting factory reset counts as every setting set to ``defaults``."""
        out = {}
        for cmd in list(self._q):
            if cmd[0] == FACTORY_RESET:
                out = dict(defaults)
            elif cmd[0] == SETTINGS:
                for name in cmd[1]:
                    out[name] = cmd[1][name]
        return out

    def drain(self, apply):
        """Apply every waiting command with ``apply(cmd)``; an exception from one
        is kept in ``last_error`` and does not stop the others. Allocates nothing
        when empty."""
        q = self._q
        while q:
            cmd = q.pop(0)
            try:
                apply(cmd)
            except Exception as e:      # a bad command must never stop the loop
                self.last_error = "%r: %s" % (cmd, e)
            self.applied += 1
