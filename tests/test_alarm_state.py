"""A brown-out or reset in the middle of an alarm boots into the safe state
(issue 12's fault matrix; firmware/alarm_state.py, docs/reliability.md).

Each test runs a BMS on an in-memory flash, cuts it off mid-alarm (the app is
dropped, as a brown-out drops the RAM), boots a new one on the same flash and
the same batteries, and watches the pins. A control boot without the flash
shows what a reset would do otherwise: the tests can fail."""
import alarm_state
import codes as C
import store
from bmsutil import Battery, Rig, codes


def boot(fs, batteries, **kw):
    """A BMS after a reset: a fresh Rig on the same batteries, with the alarm
    state from ``fs`` (main.build's wiring) when ``fs`` is given."""
    r = Rig(batteries=batteries, **kw)
    if fs is not None:
        r.app.alarm_state = alarm_state.AlarmState(fs)
        r.restored = r.app.alarm_state.restore(r.app)
    return r


def under_voltage_alarm(fs):
    bat = Battery()
    r = boot(fs, [bat])
    r.run(1000)
    r.set_cell(2700)
    assert r.until(lambda st: not st.atd, 60000) == 32200 and "A-B01" in codes(r.st)
    r.run_for(1500)                  # the latch is on flash within MIN_GAP_MS
    r.set_cell(3300)                 # the load is off: the cell relaxes
    return r, bat


def test_a_brown_out_during_a_latched_under_voltage_withdrawal_keeps_the_loads_off():
    fs = store.MemFs()
    r, bat = under_voltage_alarm(fs)
    assert r.app.alarm_state.writes >= 1
    # The control: a board without the saved state lets the loads back at once.
    plain = boot(None, [bat])
    plain.run(5000)
    assert plain.st.atd and plain.level("load_disconnect") == 1
    # The board browns out and boots on the same flash and the relaxed 3.3 V cells.
    b = boot(fs, [bat])
    assert b.restored == ["A-B01"]
    b.run(120000)
    assert [v for t, v in b.transitions("load_disconnect")] == [0]      # never on
    assert codes(b.st) == ["A-B01"] and b.st.pre_alarm and b.level("pre_alarm") == 1
    # Recharge (1 % of 100 Ah at 20 A: 3 minutes) releases it, as without the reset.
    bat.current_ma = 20000
    t = b.until(lambda st: st.atd, 400000)
    assert t is not None and 180000 <= t - 120000 <= 190000
    b.run_for(2000)
    doc, status = store.load(fs, alarm_state.ALARMS_FILE)
    assert status == store.OK and doc["latched"] == []             # and the release is saved


def test_a_user_reset_after_the_reboot_releases_it_too():
    fs = store.MemFs()
    r, bat = under_voltage_alarm(fs)
    b = boot(fs, [bat])
    b.run(3000)
    assert not b.st.atd
    b.app.diagnosis.user_action()
    b.run(3000 + 5000 + 1000)
    assert b.st.atd and codes(b.st) == []


def test_a_locked_system_port_stays_locked_across_resets_and_retries_are_counted():
    fs = store.MemFs()
    bat = Battery()
    r = boot(fs, [bat])
    r.run(2000)
    assert r.level("system_discharge") == 1
    trip = r.app.power.system.trip
    trip.trip()                       # a short: A-A12, retry in 5 s
    r.run_for(1500)
    assert r.level("system_discharge") == 0
    # Brown-out (the short dragged the supply down): the retry count survives,
    # and the port waits its full pause again before it retries.
    b = boot(fs, [bat])
    assert b.app.power.system.trip.failed == 1 and b.app.power.system.trip.tripped
    b.run(4500)
    assert b.level("system_discharge") == 0
    b.run(8000)
    assert b.level("system_discharge") == 1
    # Three more trips: locked; a reset keeps it locked until the user acts.
    t = b.app.power.system.trip
    for _ in range(3):
        t.trip()
    b.run_for(1500)
    assert t.locked
    c = boot(fs, [bat])
    c.run(600000)
    assert [v for _, v in c.transitions("system_discharge")] == [0]
    assert "A-A12" in codes(c.st)
    c.app.power.user_action()
    c.run_for(3000)
    assert c.level("system_discharge") == 1


def test_a_corrupt_alarm_file_restores_nothing_and_is_e_b31():
    fs = store.MemFs()
    fs.write(alarm_state.ALARMS_FILE, b'{"kind": "alarms"}\n#crc32=00000000')
    b = boot(fs, [Battery()])
    assert b.restored == [] and b.app.alarm_state.status == store.CORRUPT
    b.run(3000)
    assert "E-B31" in codes(b.st)
    assert store.load(fs, alarm_state.ALARMS_FILE)[1] == store.OK      # written good again at once
    again = boot(fs, [Battery()])                                     # a power-cycle clears E-B31
    again.run(3000)
    assert again.app.alarm_state.status == store.OK and "E-B31" not in codes(again.st)
    store.save(fs, alarm_state.ALARMS_FILE, {"kind": "alarms", "version": 1, "latched": ["A-B02"],
                                             "alternator": [0, 0, 0], "system": [0, 0, 0]})
    assert boot(fs, [Battery()]).app.alarm_state.status == store.CORRUPT     # not a latched code


def test_a_flapping_latch_is_written_at_most_once_a_second():
    fs = store.MemFs()
    r = boot(fs, [Battery()])
    r.run(1000)
    st = r.app.alarm_state
    d = r.app.diagnosis
    for k in range(100):              # 10 s of a latch toggling every tick
        if k % 2:
            d.restore_latched(C.A_B01)
        else:
            d.q.reset(C.A_B01)
        r.run_for(100)
    assert 1 <= st.writes <= 11
