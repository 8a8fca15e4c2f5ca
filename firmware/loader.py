"""The loader: what the board runs at boot, before the application
(behaviour §11; docs/update.md).

``boot.py`` calls ``boot()``: it counts a new version's trial boot (or rolls a
failed trial back, ``update.boot_choice``), puts the active slot's folder first
on ``sys.path`` and drives every output off, except one the update held on:
the loads stay up while the new version starts. ``main.py`` then calls
``start()``: it imports ``main`` from that slot and starts the BMS. Its first
healthy tick ends the trial (``update.confirm``) and releases the held output to
the BMS's own decision.

If the application cannot start (it raises on import or while it builds, or
refuses the board), a version on trial is rolled back at once and the board
resets into the previous one. If no version runs, the charge output is open
from boot, and the load output is opened ``NO_VERSION_LOAD_OFF_MS`` (120 s)
later: the update failed and the loads go off as a safety measure
(behaviour §11).
"""
import sys

import store
import update

NO_VERSION_LOAD_OFF_MS = 120000        # behaviour §11: "the load output opens after 120 seconds"
_state = {"slot": None, "board": "board.json"}


def board_path(slot):
    return slot + "/board.json" if slot else "board.json"


def boot(fs=None, hw=None):
    """``boot.py``: choose the slot, make it importable, outputs off (a held one
    stays held). Returns the slot (None: the flat layout)."""
    fs = fs or store.OsFs()
    slot = update.boot_choice(fs)
    _use(slot)
    if hw is None:
        import hw
    hw.safe_pins(board_path(slot))
    return slot


def _use(slot):
    for s in update.SLOTS:
        p = "/" + s
        while p in sys.path:
            sys.path.remove(p)
    if slot:
        sys.path.insert(0, "/" + slot)
    _state["slot"] = slot
    _state["board"] = board_path(slot)


def start(fs=None, import_main=None, reset=None, clock=None, hw=None):
    """``main.py``: start the application from the active slot. Returns the
    running ``Bms``, or None when the board resets into the previous version
    (``reset`` returned) or no version runs (after ``no_version``).

    The arguments are for tests: ``import_main()`` returns the ``main`` module,
    ``reset()`` is ``machine.reset``, ``clock`` the ``time`` module, ``hw`` the
    hardware module (all default to the board's)."""
    fs = fs or store.OsFs()
    slot = _state["slot"]
    if import_main is None:
        import_main = _import_main
    app = None
    why = None
    try:
        app = import_main().main(_state["board"], lambda: _healthy(fs, hw))
        if app is None:
            why = "the BMS refused the board (see above)"
    except Exception as e:          # a bundle that raises on import or while it builds
        why = "%s: %s" % (type(e).__name__, e)
        print("the application failed to start: %s" % why)
    if app is not None:
        return app
    doc = update.read_slots(fs)
    if doc is not None and doc.get("trial") and doc.get("previous") in update.SLOTS:
        prev = update.rollback(fs, why)
        print("update rolled back to %s: %s" % (prev, why))
        if reset is None:
            import hw as hw_mod
            reset = hw_mod.reset
        reset()
        return None
    no_version(clock, hw)
    return None


def _import_main():
    import main as app_main
    return app_main


def _healthy(fs, hw):
    if update.confirm(fs):
        print("update confirmed: the new version reached a healthy first tick")
    if hw is None:
        import hw
    hw.release_holds(_state["board"])


def no_version(clock=None, hw=None, keep_going=None):
    """No version runs: the charge output is off (``boot``), the load output is
    opened ``NO_VERSION_LOAD_OFF_MS`` after the failure (it may have been held on
    through the update's reset). Waits there; the REPL (Ctrl-C) and a new
    ``bmsctl deploy`` remain the way out."""
    if clock is None:
        import time as clock
    if hw is None:
        import hw
    print("no application version runs: the load output opens in %d s" % (NO_VERSION_LOAD_OFF_MS // 1000))
    t0 = clock.ticks_ms()
    while clock.ticks_diff(clock.ticks_ms(), t0) < NO_VERSION_LOAD_OFF_MS and (keep_going is None or keep_going()):
        clock.sleep_ms(100)
    hw.release_holds(_state["board"])
    hw.safe_pins(_state["board"])
