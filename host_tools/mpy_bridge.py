"""Drive the real MicroPython interpreter (the WebAssembly port, in Node) from CPython.

``MicroPython()`` starts one long-lived Node process (``host_tools/mpy/bridge.mjs``);
``load_firmware()`` copies ``firmware/*.py`` and the pin mock (as ``machine``) into
its ``/lib``; ``run(code)`` executes code and returns what it printed, or raises
``MicroPythonError`` with MicroPython's own traceback. Needs ``npm ci`` in
``host_tools/mpy`` (``make test`` does it).
"""
import base64
import glob
import json
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
MPY_DIR = os.path.join(HERE, "mpy")
ROOT = os.path.dirname(HERE)


# The interpreters the tests run: the minimum supported release and the newest on
# the npm registry (host_tools/mpy/package.json pins both).
VERSIONS = {"1.27": "@micropython/micropython-webassembly-pyscript", "1.29": "micropython-newest"}
MINIMUM = "1.27"
NEWEST = "1.29"


class MicroPythonError(RuntimeError):
    """Code raised inside MicroPython; the message is its traceback."""


def available(version=MINIMUM):
    return shutil.which("node") is not None and os.path.isdir(
        os.path.join(MPY_DIR, "node_modules", VERSIONS[version]))


class MicroPython:
    """``version``: a key of ``VERSIONS`` (default the minimum supported, 1.27)."""

    def __init__(self, version=MINIMUM):
        env = dict(os.environ, MPY_PACKAGE=VERSIONS[version])
        self.version = version
        self.proc = subprocess.Popen(["node", os.path.join(MPY_DIR, "bridge.mjs")], cwd=MPY_DIR, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def _call(self, req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise MicroPythonError("the MicroPython process ended")
        return json.loads(line)

    def write(self, path, data):
        ans = self._call({"op": "write", "path": path, "data": data})
        if not ans["ok"]:
            raise MicroPythonError(ans.get("error"))

    def write_bytes(self, path, data):
        """Write a binary file (a .mpy, say) into the interpreter's filesystem."""
        ans = self._call({"op": "write", "path": path, "b64": base64.b64encode(data).decode("ascii")})
        if not ans["ok"]:
            raise MicroPythonError(ans.get("error"))

    def run(self, code):
        """Run ``code``; return its printed output. Raise ``MicroPythonError``."""
        ans = self._call({"op": "run", "code": code})
        if not ans["ok"]:
            raise MicroPythonError((ans.get("out") or "") + ans.get("error", ""))
        return ans["out"]

    def reset(self):
        """A fresh interpreter (files written so far are kept)."""
        ans = self._call({"op": "reset"})
        if not ans["ok"]:
            raise MicroPythonError(ans.get("error"))

    def load_firmware(self, extra=()):
        """Copy the firmware, the pin mock as ``machine``, the ``cryptolib``
        stand-in and ``extra`` files into /lib."""
        for path in glob.glob(os.path.join(ROOT, "firmware", "*.py")):
            self.write("/lib/" + os.path.basename(path), open(path).read())
        self.write("/lib/machine.py", open(os.path.join(HERE, "pin_mock.py")).read())
        self.write("/lib/cryptolib.py", open(os.path.join(MPY_DIR, "mp_cryptolib.py")).read())
        for path in extra:
            self.write("/lib/" + os.path.basename(path), open(path).read())

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
