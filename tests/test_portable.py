"""The portable tests (tests/portable/ptest_*.py) under both interpreters:
CPython, and the real MicroPython (WebAssembly port): 1.27, the minimum
supported, and the newest release, with the same firmware files and pin mock."""
import ast
import glob
import importlib
import os
import sys

import pytest

import host_tools
from host_tools import mpy_bridge

PORTABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "portable")
MODULES = sorted(glob.glob(os.path.join(PORTABLE, "ptest_*.py")))
MP_RING = os.path.join(host_tools.ROOT, "host_tools", "mpy", "mp_ring.py")
BLE_MOCK = os.path.join(host_tools.ROOT, "host_tools", "ble_mock.py")   # the mock ``bluetooth`` (ptest_ble)
HELPERS = sorted(glob.glob(os.path.join(PORTABLE, "pt_*.py"))) + [MP_RING, BLE_MOCK]


def collect():
    cases = []
    for path in MODULES:
        mod = os.path.basename(path)[:-3]
        for node in ast.parse(open(path).read()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                cases.append((mod, node.name))
    return cases


CASES = collect()
IDS = ["%s.%s" % c for c in CASES]


def test_there_are_portable_tests():
    assert len(CASES) >= 15


@pytest.mark.parametrize("mod,func", CASES, ids=IDS)
def test_cpython(mod, func):
    host_tools.use_firmware()
    for d in (PORTABLE, os.path.dirname(MP_RING)):
        if d not in sys.path:
            sys.path.insert(0, d)
    getattr(importlib.import_module(mod), func)()


@pytest.fixture(scope="session", params=sorted(mpy_bridge.VERSIONS))
def micropython(request):
    """The real MicroPython: the minimum supported release and the newest."""
    if not mpy_bridge.available(request.param):
        pytest.fail("MicroPython (WebAssembly) is not installed: run `make test`, which runs npm ci in host_tools/mpy")
    mp = mpy_bridge.MicroPython(request.param)
    mp.load_firmware(extra=MODULES + HELPERS)
    out = mp.run("import sys\nprint(sys.implementation.name, sys.implementation.version)")
    assert out.startswith("micropython (%s, " % request.param.replace(".", ", ")), out
    yield mp
    mp.close()


@pytest.mark.parametrize("mod,func", CASES, ids=IDS)
def test_micropython(micropython, mod, func):
    micropython.run("import %s\n%s.%s()\n" % (mod, mod, func))


def test_ble_frames_are_the_same_bytes_on_both_interpreters(micropython):
    """ptest_ble.frames(): every advertisement and GATT value of fixed states,
    built by MicroPython (the JS-backed cryptolib) equal to CPython's byte for byte."""
    host_tools.use_firmware()
    for d in (PORTABLE, os.path.dirname(MP_RING)):
        if d not in sys.path:
            sys.path.insert(0, d)
    want = importlib.import_module("ptest_ble").frames()
    got = micropython.run("import ptest_ble\nprint(ptest_ble.frames())\n")
    assert got.strip("\n") == want
    assert len(want.split("\n")) == 50
