"""Portable: storage encoding, persistence and history arithmetic on both interpreters."""
import history as H
import persist as P
import store
from settings import Settings


class MemFs:
    def __init__(self):
        self.files = {}

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        self.files[name] = bytes(data)

    def rename(self, src, dst):
        self.files[dst] = self.files.pop(src)

    def remove(self, name):
        self.files.pop(name, None)


def test_settings_round_trip_and_a_torn_file():
    fs = MemFs()
    s = Settings()
    s.set("cell_uv_trip_v", 2.7)
    s.set("pre_alarm_mode", "intermittent")
    store.save(fs, P.SETTINGS_FILE, P.settings_doc(s))
    back = Settings()
    assert P.load_settings(fs, back) == store.OK
    assert back.get("cell_uv_trip_v") == 2.7 and back.get("pre_alarm_mode") == "intermittent"
    raw = fs.files[P.SETTINGS_FILE]
    fs.files[P.SETTINGS_FILE] = raw[:len(raw) - 5]
    assert P.load_settings(fs, back) == store.CORRUPT and back.get("cell_uv_trip_v") == 2.8


def test_crc32_is_the_standard_one():
    raw = store.encode({"k": "123456789"})
    assert raw.endswith(b"\n") and store.decode(raw) == {"k": "123456789"}


def test_history_survives_a_save_and_load():
    fs = MemFs()
    h = H.History()
    h.drawn_mah = 123456
    h.min_cell_mv = 2950
    per = P.Persister(fs, Settings(), h)
    per.save_history_now()
    back = H.History()
    assert P.load_history(fs, back) == store.OK
    assert back.drawn_mah == 123456 and back.min_cell_mv == 2950 and back.max_cell_mv is None
