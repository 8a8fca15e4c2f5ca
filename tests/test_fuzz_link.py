"""The link decoder fuzzed (issue 12, item 1): short seeded runs of `make fuzz`'s
generator under CPython and MicroPython, a hypothesis search over arbitrary
bytes around a valid answer, and proof that the harness sees a broken decoder."""
import json

import pytest
from hypothesis import given, settings as hsettings, strategies as st

import host_tools
from host_tools import fuzz, mpy_bridge

host_tools.use_firmware()
import fuzz_link  # noqa: E402  (host_tools/mpy: portable)
import link as L  # noqa: E402
import mp_ring  # noqa: E402

FAILURES = fuzz.FAILURES


def test_a_seeded_run_finds_nothing_in_any_class():
    r = fuzz_link.run(12 * 1500, seed=11)
    assert r["cases"] == 18000 and r["first_failures"] == []
    for k in FAILURES:
        assert r[k] == 0, (k, r)
    per = r["per_class"]
    for cls in fuzz_link.MUST_ACCEPT:
        assert per[cls]["accepted"] == per[cls]["cases"] == 1500, cls
    for cls in ("random", "truncated", "bitflip", "burst", "malformed"):
        assert per[cls]["accepted"] == 0, cls
    # (a splice whose bytes happen to equal one of the two answers is that answer)
    assert all(v["failures"] == 0 for v in per.values())
    assert r["link_errors"]["range"] > 0 and r["link_errors"]["record"] > 0 and r["link_errors"]["crc"] > 0


@pytest.mark.parametrize("broken", ["crc", "range"])
def test_the_harness_sees_a_broken_decoder(monkeypatch, broken):
    if broken == "crc":
        monkeypatch.setattr(L.LinkMaster, "_crc_ok", lambda self, a, b: True)
    else:
        monkeypatch.setattr(L, "decode_records", _no_range_check(L.decode_records))
    r = fuzz_link.run(12 * 100, seed=3)
    assert r["accepted_corrupt"] > 0 or r["out_of_range"] > 0
    assert r["first_failures"]


def _no_range_check(real):
    def decode(buf, start, plen, hop, out):
        err = real(buf, start, plen, hop, out)
        return L.DECODE_OK if err == L.ERR_RANGE else err
    return decode


def test_the_same_run_inside_micropython():
    if not mpy_bridge.available():
        pytest.fail("MicroPython (WebAssembly) is not installed: run `make test`")
    r = fuzz.micropython(2400, seed=5, chunk=1200)
    assert r["cases"] == 2400
    for k in FAILURES:
        assert r[k] == 0, (k, r["first_failures"])
    assert r["per_class"]["valid"]["accepted"] == 200 and r["per_class"]["bitflip"]["accepted"] == 0


@hsettings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300), st.booleans(), st.integers(0, 3))
def test_arbitrary_bytes_around_an_answer_never_crash_or_fake_a_reading(before, after, include, n_batteries):
    uart = fuzz_link.FuzzUart()
    lm = L.LinkMaster(uart)
    lm.service(0)
    cells = [3300, 3301, 3302, 3303]
    valid = bytes(mp_ring.frame(lm.seq, [mp_ring.record(i + 1, cells, (215,)) for i in range(n_batteries)]))
    uart.inbound = bytearray(before + (valid if include else b"") + after)
    bank0 = lm.bank
    lm.service(1)
    if lm.frames_ok:
        assert lm.frames_ok == 1 and lm.bank.count == n_batteries
        assert [lm.bank.cell_mv[i * 16 + k] for i in range(n_batteries) for k in range(4)] == cells * n_batteries
    else:
        assert lm.bank is bank0 and lm.bank.count == 0
    if include and not before and not after:
        assert lm.frames_ok == 1                      # an answer alone is always taken


def test_make_fuzz_writes_the_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(host_tools, "ROOT", str(tmp_path))
    assert fuzz.main(["--cases", "1200", "--mpy-cases", "120"]) == 0
    r = json.load(open(tmp_path / "build" / "bench" / "fuzz.json"))
    for k in ("cases", "crashes", "accepted_corrupt", "valid_refused", "per_class", "micropython"):
        assert k in r
    assert r["cases"] == 1200 and r["micropython"]["cases"] == 120
