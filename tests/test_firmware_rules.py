"""House rules for firmware/: what must hold for the files to run on the board."""
import ast
import glob
import os

import pytest

import host_tools

FILES = sorted(glob.glob(os.path.join(host_tools.FIRMWARE_DIR, "*.py")))
FORBIDDEN_MODULES = {"dataclasses", "enum", "typing", "contextlib", "host_tools", "abc", "functools"}
FORBIDDEN_METHODS = {"ljust", "rjust", "bit_length", "casefold", "removeprefix", "removesuffix"}
# The entry point hands the clock to the loop; the loader, above it, waits out
# the 120 s before opening the loads when no version runs (docs/update.md).
CLOCK_READERS = {"main.py", "loader.py"}


def tree(path):
    return ast.parse(open(path).read(), path)


def imports(path):
    out = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add((node.module or "").split(".")[0])
    return out


def test_only_the_hardware_layer_imports_machine():
    assert [os.path.basename(p) for p in FILES if "machine" in imports(p)] == ["hw.py"]


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_no_module_micropython_lacks(path):
    assert not imports(path) & FORBIDDEN_MODULES


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_no_construct_micropython_lacks(path):
    for node in ast.walk(tree(path)):
        assert not isinstance(node, ast.Match), "match statement at line %d" % node.lineno
        if isinstance(node, ast.Raise):
            assert node.cause is None, "exception chaining at line %d" % node.lineno
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            assert not node.args.posonlyargs, "'/' in a signature at line %d" % node.lineno
        if isinstance(node, ast.Attribute):
            assert node.attr not in FORBIDDEN_METHODS, "%s at line %d" % (node.attr, node.lineno)
        if isinstance(node, (ast.AnnAssign,)) or (isinstance(node, ast.arg) and node.annotation):
            pytest.fail("annotation at line %d" % node.lineno)


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_logic_never_reads_the_clock(path):
    if os.path.basename(path) in CLOCK_READERS:
        return
    assert "time" not in imports(path) and "utime" not in imports(path)


def test_every_firmware_module_is_tested():
    test_text = "".join(open(p).read() for p in glob.glob(os.path.join(host_tools.ROOT, "tests", "*.py")) +
                        glob.glob(os.path.join(host_tools.ROOT, "tests", "portable", "*.py")))
    for path in FILES:
        name = os.path.basename(path)[:-3]
        assert ("import %s" % name in test_text or "from %s import" % name in test_text
                or "import %s as" % name in test_text), name + " has no test importing it"
