"""``make fuzz``: the link decoder fuzzed 10^6 times under CPython and 10^5 times
inside MicroPython 1.27 (``host_tools/mpy/fuzz_link.py``, seeded, so a run can be
repeated), written to ``build/bench/fuzz.json``:

``cases``, ``crashes``, ``accepted_corrupt``, ``valid_refused``,
``bank_changed_on_reject``, ``out_of_range``, ``per_class`` (CPython), and the
same under ``micropython``. Exit status 1 if any of the failure counts is not 0.
"""
import argparse
import json
import os
import sys
import time

import host_tools

FAILURES = ("crashes", "accepted_corrupt", "valid_refused", "bank_changed_on_reject", "out_of_range")


def cpython(cases, seed=1, chunk=100000):
    """The fuzz run under CPython, in chunks of ``chunk`` cases with seeds seed, seed+1, ..."""
    host_tools.use_firmware()
    sys.path.insert(0, os.path.join(host_tools.ROOT, "host_tools", "mpy"))
    import fuzz_link
    return _merge([fuzz_link.run(min(chunk, cases - done), seed + k)
                   for k, done in enumerate(range(0, cases, chunk))])


def micropython(cases, seed=1000, chunk=10000, version="1.27"):
    """The same inside MicroPython (the WebAssembly port), in chunks."""
    from host_tools.mpy_bridge import MicroPython
    mp = MicroPython(version)
    try:
        mp.load_firmware(extra=["host_tools/mpy/fuzz_link.py", "host_tools/mpy/mp_ring.py"])
        mp.run("import fuzz_link, json")
        parts = []
        for k, done in enumerate(range(0, cases, chunk)):
            out = mp.run("print(json.dumps(fuzz_link.run(%d, %d)))" % (min(chunk, cases - done), seed + k))
            parts.append(json.loads(out.strip().splitlines()[-1]))
        return _merge(parts)
    finally:
        mp.close()


def _merge(parts):
    out = {}
    for key in ("cases", "sync_garbage_missed") + FAILURES:
        out[key] = sum(p[key] for p in parts)
    per = {}
    for p in parts:
        for cls, v in p["per_class"].items():
            d = per.setdefault(cls, {"cases": 0, "accepted": 0, "failures": 0})
            for k in d:
                d[k] += v[k]
    out["per_class"] = per
    out["first_failures"] = [f for p in parts for f in p["first_failures"]][:5]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=1000000, help="CPython cases (default 10^6)")
    ap.add_argument("--mpy-cases", type=int, default=100000, help="MicroPython cases (default 10^5)")
    a = ap.parse_args(argv)
    t = time.monotonic()
    result = cpython(a.cases)
    result["wall_s"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    result["micropython"] = micropython(a.mpy_cases)
    result["micropython"]["wall_s"] = round(time.monotonic() - t, 1)
    path = os.path.join(host_tools.ROOT, "build", "bench", "fuzz.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    for name, r in (("CPython", result), ("MicroPython 1.27", result["micropython"])):
        print("%-17s %8d cases in %6.1f s: %s" % (name, r["cases"], r["wall_s"],
                                                ", ".join("%s %d" % (k, r[k]) for k in FAILURES)))
    print("%-17s %s" % ("per class", ", ".join("%s %d/%d accepted" % (c, v["accepted"], v["cases"])
                                                for c, v in result["per_class"].items())))
    for f in result["first_failures"] + result["micropython"]["first_failures"]:
        print("FAILED: " + f)
    print("wrote %s" % os.path.relpath(path))
    bad = any(result[k] or result["micropython"][k] for k in FAILURES)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
