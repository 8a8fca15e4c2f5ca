"""Safe application updates (issue 12; firmware/update.py, firmware/loader.py,
docs/update.md): staged, checked, switched at once, rolled back; a power cut at
every step; a bundle that crashes on import; no version at all."""
import hashlib
import json

import pytest

import host_tools
import loader
import store
import update
from bmsutil import Rig
from test_store import CrashFs, PowerCut

BOARD = open(host_tools.board_path("esp32-devkitc"), "rb").read()


class CutFs(CrashFs):
    """test_store's power-cut filesystem, with what an update also does: appends
    (a step a byte), removals (a step each) and folders (names with "/" are keys)."""

    def append(self, name, data):
        for i in range(len(data)):
            self._step()
            self.files[name] = self.files.get(name, b"") + bytes(data[i:i + 1])

    def remove(self, name):
        if name in self.files:
            self._step()
        self.files.pop(name, None)

    def mkdir(self, name):
        pass


def bundle(version, main_src=b"def main(board_path, on_healthy):\n    return 'app %s'\n", extra=None):
    files = {"main.py": main_src.replace(b"%s", version.encode()), "board.json": BOARD, "bms.mpy": b"M" * 700}
    files.update(extra or {})
    manifest = {"version": version,
                "files": dict((n, [len(d), hashlib.sha256(d).hexdigest()]) for n, d in files.items())}
    return manifest, files


def stage(fs, version, chunk=256, **kw):
    manifest, files = bundle(version, **kw)
    st = update.Stager(fs, hashlib.sha256)
    slot = st.begin(manifest)
    for name in sorted(files):
        data = files[name]
        for off in range(0, len(data), chunk):
            st.write(name, off, data[off:off + chunk])
    st.finish()
    st.switch()
    return slot, files


def running(fs):
    """What a boot runs now: (slot, version, trial) after boot_choice."""
    slot = update.boot_choice(fs)
    doc = update.read_slots(fs)
    return slot, doc and doc.get("version"), doc and doc.get("trial")


def test_a_staged_update_switches_on_trial_and_is_confirmed_by_a_healthy_tick():
    fs = store.MemFs()
    assert update.boot_choice(fs) is None                   # flat layout: no slots yet
    slot, files = stage(fs, "1.0")
    assert slot == "app_a" and fs.read("app_a/main.py") == files["main.py"]
    assert running(fs) == ("app_a", "1.0", 1)
    assert update.confirm(fs) and update.read_slots(fs)["trial"] == 0
    slot2, _ = stage(fs, "1.1")
    assert slot2 == "app_b"                                  # never the slot that runs
    assert running(fs) == ("app_b", "1.1", 1)
    update.confirm(fs)
    doc = update.read_slots(fs)
    assert doc["previous"] == "app_a" and doc["previous_version"] == "1.0" and not doc["trial"]


def test_a_trial_that_boots_twice_without_confirming_is_rolled_back():
    fs = store.MemFs()
    stage(fs, "1.0")
    update.boot_choice(fs)
    update.confirm(fs)
    stage(fs, "2.0")
    assert update.boot_choice(fs) == "app_b"                 # the trial boot
    assert update.boot_choice(fs) == "app_a"                 # it reset again without a healthy tick
    doc = update.read_slots(fs)
    assert doc["active"] == "app_a" and doc["version"] == "1.0" and not doc["trial"]
    assert doc["rolled_back"]["version"] == "2.0"
    assert update.boot_choice(fs) == "app_a"                 # and stays there


@pytest.mark.parametrize("spoil,words", [
    (lambda m, f: f.__setitem__("bms.mpy", b"X" + f["bms.mpy"][1:]), "bms.mpy: its SHA-256 does not match"),
    (lambda m, f: f.__setitem__("bms.mpy", f["bms.mpy"][:-1]), "bms.mpy: 699 of 700 bytes arrived"),
])
def test_a_corrupt_or_short_file_is_refused_and_nothing_switches(spoil, words):
    fs = store.MemFs()
    stage(fs, "1.0")
    update.confirm(fs)
    before = dict(fs.files)
    manifest, files = bundle("2.0")
    spoil(manifest, files)
    st = update.Stager(fs, hashlib.sha256)
    st.begin(manifest)
    for name in sorted(files):
        st.write(name, 0, files[name])
    with pytest.raises(update.UpdateError) as e:
        st.finish()
    assert words in str(e.value)
    with pytest.raises(update.UpdateError):
        st.switch()
    assert fs.read(update.SLOTS_FILE) == before[update.SLOTS_FILE]
    assert running(fs)[:2] == ("app_a", "1.0")


@pytest.mark.parametrize("manifest,words", [
    ({"files": {}}, "needs a version"),
    ({"version": "2", "files": {"../boot.py": [1, "0" * 64]}}, "not a file name"),
    ({"version": "2", "files": {"main.py": [1, "0" * 64]}}, "has no board.json"),
    ({"version": "2", "files": {"main.py": [-1, "0" * 64], "board.json": [1, "0" * 64]}}, "needs [size"),
    ({"version": "2", "files": {"main.py": [1, "abc"], "board.json": [1, "0" * 64]}}, "needs [size"),
    ("nonsense", "needs a version"),
])
def test_a_malformed_manifest_is_refused_before_anything_is_touched(manifest, words):
    fs = store.MemFs()
    stage(fs, "1.0")
    before = dict(fs.files)
    with pytest.raises(update.UpdateError) as e:
        update.Stager(fs, hashlib.sha256).begin(manifest)
    assert words in str(e.value) and fs.files == before


def test_writes_out_of_order_or_past_the_size_are_refused():
    fs = store.MemFs()
    manifest, files = bundle("1.0")
    st = update.Stager(fs, hashlib.sha256)
    st.begin(manifest)
    with pytest.raises(update.UpdateError, match="from offset 0, not 10"):
        st.write("main.py", 10, b"x")
    with pytest.raises(update.UpdateError, match="not in the manifest"):
        st.write("evil.py", 0, b"x")
    with pytest.raises(update.UpdateError, match="more bytes than"):
        st.write("main.py", 0, files["main.py"] + b"!")


def test_a_power_cut_at_every_step_of_an_update_leaves_a_version_that_runs():
    base = store.MemFs()
    stage(base, "1.0")
    update.confirm(base)
    # Cut the power after 0, 1, 2, ... steps until the update gets through whole.
    total = 0
    while True:
        fs = CutFs(base.files, budget=total)
        try:
            stage(fs, "2.0", chunk=64)
            break
        except PowerCut:
            pass
        fs.budget = None
        slot, version, trial = running(fs)
        # Before the switch the old version runs; the switch is one rename.
        assert (slot, version) == ("app_a", "1.0"), total
        assert fs.read("app_a/main.py") == base.files["app_a/main.py"]
        total += 1
    assert total > 1000                         # every byte of the bundle was a step
    fs.budget = None
    assert running(fs)[:2] == ("app_b", "2.0")


def test_a_power_cut_while_counting_or_confirming_a_trial_keeps_a_consistent_record():
    base = store.MemFs()
    stage(base, "1.0")
    update.confirm(base)
    stage(base, "2.0")
    for cut in range(400):
        fs = CutFs(base.files, budget=cut)
        try:
            update.boot_choice(fs)
            update.confirm(fs)
        except PowerCut:
            pass
        fs.budget = None
        doc = update.read_slots(fs)
        assert doc is not None and doc["active"] in ("app_a", "app_b")
        assert (doc["active"], doc["version"]) in (("app_b", "2.0"), ("app_a", "1.0"))


# ----- the loader: boot, start, rollback, no version --------------------------------

class FakeHw:
    def __init__(self):
        self.calls = []

    def safe_pins(self, path):
        self.calls.append(("safe", path))

    def release_holds(self, path):
        self.calls.append(("release", path))


def test_the_loader_starts_the_active_slot_and_a_healthy_tick_confirms():
    fs = store.MemFs()
    stage(fs, "1.0")
    hw = FakeHw()
    assert loader.boot(fs, hw) == "app_a" and hw.calls == [("safe", "app_a/board.json")]
    started = []

    class App:
        @staticmethod
        def main(board_path, on_healthy):
            started.append(board_path)
            on_healthy()
            return "bms"
    assert loader.start(fs, lambda: App, hw=hw) == "bms"
    assert started == ["app_a/board.json"] and update.read_slots(fs)["trial"] == 0
    assert ("release", "app_a/board.json") in hw.calls
    import sys
    assert sys.path[0] == "/app_a"
    loader._use(None)
    assert "/app_a" not in sys.path


def test_a_bundle_that_crashes_on_import_is_rolled_back_at_once():
    fs = store.MemFs()
    stage(fs, "1.0")
    update.confirm(fs)
    stage(fs, "2.0")
    hw = FakeHw()
    loader.boot(fs, hw)
    resets = []

    def crash():
        raise ImportError("no module named 'bms'")
    assert loader.start(fs, crash, reset=lambda: resets.append(1), hw=hw) is None
    assert resets == [1]
    doc = update.read_slots(fs)
    assert doc["active"] == "app_a" and doc["rolled_back"]["version"] == "2.0"
    assert "ImportError" in doc["rolled_back"]["why"]
    loader._use(None)


def test_with_no_version_to_run_the_load_output_opens_after_120_s():
    # A held load output (the update's reset kept the loads up), no version runs:
    # the pin mock's transitions show it opening 120 s later, not sooner.
    from host_tools.vclock import VirtualClock
    clock = VirtualClock(0)
    pm = host_tools.use_firmware("esp32", clock)
    import hw
    board = json.loads(BOARD)
    load_pin = board["outputs"]["load_disconnect"]["pin"]
    path = host_tools.board_path("esp32-devkitc")
    assert hw.hold_output(path, "load_disconnect", True)
    pm.reset()                                  # the reset into the update keeps the hold
    hw.safe_pins(path)                          # boot.py: every output off, but the held one
    assert pm.level(load_pin) == 1
    loader._state["board"] = path
    fs = store.MemFs()

    def crash():
        raise SyntaxError("invalid syntax")
    assert loader.start(fs, crash, reset=lambda: None, clock=clock) is None
    assert pm.pin_transitions(load_pin)[-1] == (120000, 0)
    assert pm.held_pins() == {}
    loader._use(None)


def test_staging_opens_every_charge_path_with_its_reason_and_keeps_the_loads():
    import codes as C
    import inbox
    r = Rig()
    r.run(2000)
    assert r.st.atc and r.st.atd
    r.app.inbox.post((inbox.UPDATING, True))
    r.run_for(200)
    assert not r.st.atc and r.st.atd and r.level("charge_disconnect") == 0 and r.level("load_disconnect") == 1
    assert r.st.reason_list(C.PORT_ATC) == [C.REASON_UPDATING]
    assert C.REASON_UPDATING in r.st.reason_list(C.PORT_ALT) and C.REASON_UPDATING in r.st.reason_list(C.PORT_SYS_CHG)
    assert C.REASON_UPDATING not in r.st.reason_list(C.PORT_SYS_DIS)
    r.app.inbox.post((inbox.UPDATING, False))
    r.run_for(200)
    assert r.st.atc and r.level("charge_disconnect") == 1
