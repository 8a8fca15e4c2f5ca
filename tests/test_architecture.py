"""The shape of the core (issue 7): small modules, imports that run one way, one
writer of the core's state, readers that read the status record."""
import ast
import glob
import os

import host_tools

FILES = sorted(glob.glob(os.path.join(host_tools.FIRMWARE_DIR, "*.py")))
NAMES = {os.path.basename(p)[:-3]: p for p in FILES}
MAX_LINES = 300
# The stages, in the order a tick runs them; a stage may import only stages
# before it (and the leaf modules).
STAGES = ["link", "inbox", "link_health", "inputs", "monitor", "history", "balancer", "detect",
          "diagnosis", "decide", "trip", "regulator", "alternator", "system_port", "power", "status", "indicators", "ports", "bms"]


def _script_entry(node):
    """``if __name__ == "__main__":``: what runs when the board executes the
    file as its main.py, never on import (so no part of an import cycle)."""
    t = node.test if isinstance(node, ast.If) else None
    return (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "__name__"
            and isinstance(t.comparators[0], ast.Constant) and t.comparators[0].value == "__main__")


def _imports(path):
    out = set()
    tree = ast.parse(open(path).read(), path)
    tree.body = [n for n in tree.body if not _script_entry(n)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add((node.module or "").split(".")[0])
    return out & set(NAMES)


def test_no_firmware_module_is_over_300_lines():
    long = ["%s (%d)" % (n, len(open(p).read().splitlines())) for n, p in NAMES.items()
            if len(open(p).read().splitlines()) > MAX_LINES]
    assert not long, long


def test_firmware_imports_form_no_cycle():
    graph = {n: _imports(p) for n, p in NAMES.items()}
    done = set()

    def visit(n, stack):
        assert n not in stack, "import cycle: " + " -> ".join(stack + [n])
        if n in done:
            return
        for m in graph[n]:
            visit(m, stack + [n])
        done.add(n)
    for n in graph:
        visit(n, [])
    assert done == set(graph)


def test_stages_import_only_earlier_stages():
    for i, name in enumerate(STAGES):
        later = set(STAGES[i + 1:])
        assert not _imports(NAMES[name]) & later, "%s imports a later stage: %s" % (
            name, _imports(NAMES[name]) & later)


def test_nothing_below_the_controller_imports_it_or_the_repl():
    for n, p in NAMES.items():
        top = {"bms", "diag", "main"} if n not in ("bms", "main", "diag") else {"diag", "main"}
        if n in ("main", "diag", "loader"):      # the loader is above main: it starts it (docs/update.md)
            continue
        assert not _imports(p) & top, "%s imports %s" % (n, _imports(p) & top)


def test_the_repl_never_writes_the_core():
    """diag reads ``app.status`` and posts to ``app.inbox``: no assignment to any
    attribute of the running BMS, no call of a method that changes it."""
    for name in ("diag", "diag_cmds", "diag_ble", "diag_power", "diag_bank"):
        _repl_reads_only(name)


def _repl_reads_only(name):
    tree = ast.parse(open(NAMES[name]).read())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                assert not isinstance(t, (ast.Attribute, ast.Subscript)), \
                    "%s assigns to %s at line %d" % (name, ast.unparse(t), node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not (
                isinstance(node.func.value, ast.Name) and node.func.value.id in ("CMD", "DB", "DP")):
            # (calls into diag's own helper modules are checked in those modules)
            assert node.func.attr not in ("update", "set_soc", "synchronise", "user_action", "accept_bank",
                                          "reset_defaults", "clear", "set_active", "reset"), \
                "%s calls %s at line %d" % (name, ast.unparse(node.func), node.lineno)


def test_only_the_tick_writes_the_status_record():
    # indicators: status.leds; power: its figures; ble: status.ble_state (all stages of the tick)
    writers = {"bms", "decide", "indicators", "ports", "power", "ble"}
    for n, p in NAMES.items():
        if n in writers:
            continue
        for node in ast.walk(ast.parse(open(p).read())):
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    text = ast.unparse(t)
                    assert not (text.startswith("st.") or text.startswith("status.")) or n == "status", \
                        "%s writes the status record: %s" % (n, text)
