"""firmware/store.py and firmware/persist.py: a power cut at any step loses nothing
that was committed; corrupt or missing settings give defaults and E-B31."""
import json

import pytest

import host_tools

host_tools.use_firmware()
import history as H  # noqa: E402
import persist as P  # noqa: E402
import store  # noqa: E402
from settings import Settings  # noqa: E402


class PowerCut(Exception):
    pass


class CrashFs:
    """An in-memory filesystem that loses power after ``budget`` steps: each byte
    written is a step, and so is the rename (atomic: it happens whole or not)."""

    def __init__(self, files=None, budget=None):
        self.files = dict(files or {})
        self.budget = budget

    def _step(self):
        if self.budget is not None:
            if self.budget == 0:
                raise PowerCut()
            self.budget -= 1

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        self.files[name] = b""                     # open("wb") truncates at once
        for i in range(len(data)):
            self._step()
            self.files[name] = bytes(data[:i + 1])

    def rename(self, src, dst):
        self._step()
        self.files[dst] = self.files.pop(src)

    def remove(self, name):
        self.files.pop(name, None)


def test_round_trip_and_corruption_is_detected():
    raw = store.encode({"a": 1, "b": [2.5, "x"]})
    assert store.decode(raw) == {"a": 1, "b": [2.5, "x"]}
    for i in range(len(raw)):
        flipped = bytearray(raw)
        flipped[i] ^= 0x04
        assert store.decode(bytes(flipped)) is None, i
    for cut in range(len(raw)):
        assert store.decode(raw[:cut]) is None


def committed_settings():
    s = Settings()
    s.set("cell_uv_trip_v", 2.7)
    s.set("pre_alarm_mode", "intermittent")
    return s


@pytest.mark.parametrize("kind", ["settings", "history"])
def test_a_power_cut_at_every_step_of_a_write_loses_nothing_committed(kind):
    fs = CrashFs()
    old = committed_settings()
    hist_old = H.History()
    hist_old.drawn_mah = 12345
    if kind == "settings":
        store.save(fs, P.SETTINGS_FILE, P.settings_doc(old))
        new = committed_settings()
        new.set("cell_uv_trip_v", 2.65)
        doc = P.settings_doc(new)
        name = P.SETTINGS_FILE
    else:
        store.save(fs, P.HISTORY_FILE, {"kind": "history", "version": 1, "values": hist_old.as_dict()})
        hist_new = H.History()
        hist_new.drawn_mah = 99999
        doc = {"kind": "history", "version": 1, "values": hist_new.as_dict()}
        name = P.HISTORY_FILE
    steps = len(store.encode(doc)) + 1
    committed = dict(fs.files)
    seen_new = 0
    for budget in range(steps + 1):
        crash = CrashFs(committed, budget)
        try:
            store.save(crash, name, doc)
            finished = True
        except PowerCut:
            finished = False
        after = CrashFs(crash.files)                   # power back: boot reads what is there
        if kind == "settings":
            s = Settings()
            status = P.load_settings(after, s)
            assert status == store.OK, budget
            got = s.get("cell_uv_trip_v")
            assert got in (2.7, 2.65) and s.get("pre_alarm_mode") == "intermittent"
            assert (got == 2.65) == finished, budget   # new only once the rename happened
        else:
            h = H.History()
            assert P.load_history(after, h) == store.OK, budget
            assert h.drawn_mah in (12345, 99999)
            assert (h.drawn_mah == 99999) == finished
        seen_new += finished
    assert seen_new == 1                               # only the run that completed the rename


def test_missing_settings_are_defaults_and_e_b31():
    s = Settings()
    s.set("cell_uv_trip_v", 2.7)
    assert P.load_settings(CrashFs(), s) == store.MISSING
    assert s.get("cell_uv_trip_v") == 2.8


@pytest.mark.parametrize("raw", [
    b"garbage",
    store.encode({"kind": "settings", "version": 2, "values": {"cell_uv_trip_v": 9.0}}),   # out of range
    store.encode({"kind": "settings", "version": 7, "values": {}}),                         # unknown version
    store.encode(["not", "a", "dict"]),
    store.encode({"kind": "history", "version": 1, "values": {}}),
])
def test_corrupt_settings_are_defaults(raw):
    s = Settings()
    s.set("cell_uv_trip_v", 2.7)
    assert P.load_settings(CrashFs({P.SETTINGS_FILE: raw}), s) == store.CORRUPT
    assert s.get("cell_uv_trip_v") == 2.8


def test_version_1_flat_settings_are_migrated_and_unknown_names_ignored():
    raw = store.encode({"cell_uv_trip_v": 2.75, "a_setting_from_the_future": 1})
    s = Settings()
    assert P.load_settings(CrashFs({P.SETTINGS_FILE: raw}), s) == store.OK
    assert s.get("cell_uv_trip_v") == 2.75


def test_corrupt_history_is_cleared_not_half_used():
    h = H.History()
    raw = store.encode({"kind": "history", "version": 1, "values": {"drawn_mah": 5, "cycles": "many"}})
    assert P.load_history(CrashFs({P.HISTORY_FILE: raw}), h) == store.CORRUPT
    assert h.drawn_mah == 0 and h.cycles == 0


def test_rate_limits_and_e_b31_lifecycle():
    fs = CrashFs({P.SETTINGS_FILE: b"corrupt"})
    s = Settings()
    status = P.load_settings(fs, s)
    per = P.Persister(fs, s, H.History(), status)
    for _ in range(1000):                           # 100 s: nothing changed by the user
        per.tick(100)
    assert fs.files[P.SETTINGS_FILE] == b"corrupt" and per.settings_status == store.CORRUPT
    s.set("cell_uv_delay_s", 7)
    s.set("cell_uv_delay_s", 8)
    per.tick(100)
    assert per.writes == 1 and per.settings_status == store.OK     # the gap had passed: saved at once
    s.set("cell_uv_delay_s", 9)
    for _ in range(99):
        per.tick(100)
    assert per.writes == 1                                          # within 10 s of the last write
    per.tick(100)
    per.tick(100)
    assert per.writes == 2
    loaded = Settings()
    assert P.load_settings(CrashFs(fs.files), loaded) == store.OK and loaded.get("cell_uv_delay_s") == 9


def test_history_is_written_every_15_minutes_at_most_and_soon_after_a_full_charge():
    fs = CrashFs()
    h = H.History()
    per = P.Persister(fs, Settings(), h)
    h.changed = True
    for _ in range(8999):
        per.tick(100)
    assert per.writes == 0
    per.tick(100)
    assert per.writes == 1
    h.full_charge()
    per.full_charge()
    for _ in range(600):
        per.tick(100)
    assert per.writes == 2
    doc, status = store.load(CrashFs(fs.files), P.HISTORY_FILE)
    assert status == store.OK and doc["values"]["synchronisations"] == 1


def test_real_files_on_the_host(tmp_path):
    fs = store.OsFs(str(tmp_path))
    s = committed_settings()
    store.save(fs, P.SETTINGS_FILE, P.settings_doc(s))
    assert not (tmp_path / "settings.json.tmp").exists()
    text = (tmp_path / "settings.json").read_text()
    assert json.loads(text.split("\n#crc32=")[0])["values"]["cell_uv_trip_v"] == 2.7
    back = Settings()
    assert P.load_settings(fs, back) == store.OK and back.get("pre_alarm_mode") == "intermittent"
