"""firmware/inbox.py: commands posted from the REPL wait for the control tick, which
applies them at one point; and bms.Bms's handling of each command."""
import threading

import pytest

import host_tools
from bmsutil import Rig

host_tools.use_firmware()
import codes as C  # noqa: E402
import inbox as I  # noqa: E402
from inbox import Inbox, InboxFull  # noqa: E402


def test_commands_are_applied_in_order_when_drained():
    box = Inbox()
    box.post((I.SOFT_SWITCH, False))
    box.post((I.SET_SOC, 50))
    assert box.pending() == 2 and box.applied == 0
    seen = []
    box.drain(seen.append)
    assert seen == [(I.SOFT_SWITCH, False), (I.SET_SOC, 50)]
    assert box.pending() == 0 and box.applied == 2 and box.last_error is None
    box.drain(seen.append)                          # nothing waiting: nothing applied
    assert box.applied == 2


def test_a_failing_command_is_kept_as_the_last_error_and_does_not_stop_the_others():
    box = Inbox()
    box.post((I.SET_SOC, 500))
    box.post((I.SYNCHRONISE,))

    def apply(cmd):
        if cmd[0] == I.SET_SOC:
            raise ValueError("SoC out of range")
        seen.append(cmd)
    seen = []
    box.drain(apply)
    assert seen == [(I.SYNCHRONISE,)] and box.applied == 2
    assert "SoC out of range" in box.last_error and "(3, 500)" in box.last_error


def test_too_many_waiting_commands_mean_the_loop_is_not_running():
    box = Inbox()
    for k in range(I.MAX_PENDING):
        box.post((I.SYNCHRONISE,))
    with pytest.raises(InboxFull, match="control loop"):
        box.post((I.SYNCHRONISE,))
    assert box.pending() == I.MAX_PENDING


def test_posting_from_another_thread_while_the_tick_drains():
    box = Inbox()
    got = []

    def poster():
        for k in range(2000):
            while True:
                try:
                    box.post((I.SET_SOC, k))
                    break
                except InboxFull:
                    pass
    t = threading.Thread(target=poster)
    t.start()
    while t.is_alive() or box.pending():
        box.drain(got.append)
    t.join()
    assert [c[1] for c in got] == list(range(2000))


def test_command_codes_are_distinct():
    codes = [I.SETTINGS, I.SOFT_SWITCH, I.SET_SOC, I.SYNCHRONISE, I.FACTORY_RESET, I.ACCEPT_BANK,
             I.RESET_ALARMS, I.CLEAR_HISTORY]
    assert len(set(codes)) == len(codes)


# ----- the BMS applies them at its next tick ---------------------------------

def started():
    r = Rig()
    r.run(1500)
    return r


def test_nothing_changes_until_the_next_tick():
    r = started()
    r.app.inbox.post((I.SETTINGS, {"cell_uv_trip_v": 2.7}))
    r.app.inbox.post((I.SOFT_SWITCH, False))
    assert r.s.get("cell_uv_trip_v") == 2.8 and r.app.remote.soft_on and r.st.soft_on
    r.run_for(100)
    assert r.s.get("cell_uv_trip_v") == 2.7 and not r.st.soft_on and not r.st.remote_on
    assert r.app.inbox.applied == 2


def test_set_soc_synchronise_and_clear_history():
    r = started()
    r.app.inbox.post((I.SET_SOC, 42))
    r.run_for(100)
    assert r.st.soc_pct10 == 420
    r.app.history.drawn_mah = 1234
    r.app.inbox.post((I.SYNCHRONISE,))
    r.run_for(100)
    assert r.st.soc_pct10 == 1000 and r.st.synchronisations == 1 and r.app.history.synchronisations == 1
    assert r.app.history.since_full_s == 0 and r.app.balancer.spread_at_full_mv >= 0
    r.app.inbox.post((I.CLEAR_HISTORY,))
    r.run_for(100)
    assert r.app.history.drawn_mah == 0


def test_factory_reset_and_accept_bank():
    r = started()
    r.answer = False                              # a reading every tick: keep the next one away
    r.run_for(100)                                # the reading at 1.6 s; the poll at 1.6 s goes unanswered
    r.s.set("cell_uv_trip_v", 2.7)
    r.app.link_health.expected = 5
    r.app.inbox.post((I.FACTORY_RESET,))
    r.app.inbox.post((I.ACCEPT_BANK,))
    r.run_for(100)                                # 1.7 s: no reading
    assert r.s.get("cell_uv_trip_v") == 2.8
    assert r.st.expected_batteries == 0           # forgotten...
    r.answer = True                               # the poll at 2.6 s (the 1 s timeout) is answered
    r.run_for(1000)
    assert r.st.expected_batteries == 1           # ...and learned again from the next reading, at 2.7 s


def test_reset_alarms_releases_a_latched_under_voltage():
    r = started()
    r.set_cell(2700)
    r.until(lambda st: not st.atd, 60000)
    r.set_cell(3300)
    r.run_for(20000)
    assert not r.st.atd and r.st.reason_list(C.PORT_ATD) == ["A-B01"]
    r.app.inbox.post((I.RESET_ALARMS,))
    r.run_for(100)
    assert r.st.atd


def test_a_bad_command_changes_nothing_and_says_why():
    r = started()
    r.app.inbox.post((I.SETTINGS, {"cell_uv_trip_v": 9}))
    r.app.inbox.post((99,))
    r.run_for(100)
    assert r.s.get("cell_uv_trip_v") == 2.8
    assert "unknown command 99" in r.app.inbox.last_error
    assert r.app.inbox.applied == 2 and r.st.atd


def test_diag_posts_and_the_tick_applies(capsys):
    import diag
    r = started()
    diag.attach(r.app)
    try:
        assert diag.set("cell_ov_trip_v", 3.70) is True
        assert diag.set("cell_ov_trip_v", 5) is False
        assert "not changed" in capsys.readouterr().out
        diag.soft_switch(False)
        diag.set_soc(80)
        assert diag.set_soc(101) is False
        diag.synchronise()
        diag.reset_alarms()
        diag.accept_bank()
        diag.clear_history()
        diag.factory_reset()
        assert r.app.inbox.pending() == 8 and r.s.get("cell_ov_trip_v") == 3.75
        r.run_for(100)
        assert r.app.inbox.pending() == 0 and r.app.inbox.last_error is None
        assert not r.st.soft_on and r.s.get("cell_ov_trip_v") == 3.75     # factory reset came last
        diag.loop_lines()
        diag.soft_switch(True)
        r.run_for(100)
        assert r.st.soft_on
    finally:
        diag.attach(None)


def test_pending_settings_merges_the_waiting_changes_in_order():
    box = Inbox()
    assert box.pending_settings({}) == {}
    box.post((I.SETTINGS, {"cell_uv_trip_v": 2.7, "cell_uv_delay_s": 7}))
    box.post((I.SOFT_SWITCH, False))
    box.post((I.SETTINGS, {"cell_uv_trip_v": 2.75}))
    assert box.pending_settings({}) == {"cell_uv_trip_v": 2.75, "cell_uv_delay_s": 7}
    assert box.pending() == 3                      # nothing taken from the queue
    box.post((I.FACTORY_RESET,))                   # a waiting factory reset: every default
    box.post((I.SETTINGS, {"cell_uv_delay_s": 9}))
    assert box.pending_settings({"cell_uv_trip_v": 2.8, "cell_uv_delay_s": 5}) == \
        {"cell_uv_trip_v": 2.8, "cell_uv_delay_s": 9}
    box.drain(lambda cmd: None)
    assert box.pending_settings({}) == {}


def test_diag_set_after_a_waiting_factory_reset_is_checked_against_the_defaults(capsys):
    # review: with pre_alarm_reset_v at 3.4, factory_reset() then set("pre_alarm_trip_v", 3.25)
    # was accepted at the REPL and refused by the tick (the default reset is 3.2)
    import diag
    r = started()
    diag.attach(r.app)
    try:
        assert diag.set("pre_alarm_reset_v", 3.4) is True
        r.run_for(100)
        diag.factory_reset()
        assert diag.set("pre_alarm_trip_v", 3.25) is False
        assert "reset must be above" in capsys.readouterr().out
        r.run_for(100)
        assert r.app.inbox.last_error is None and r.s.get("pre_alarm_reset_v") == 3.2
    finally:
        diag.attach(None)


def test_diag_set_checks_a_change_against_the_changes_still_waiting(capsys):
    """Each change alone keeps the order rules; together they break one (the
    pre-alarm must trip above the low-bank-voltage trip): the second is refused at
    the REPL, not accepted there and then refused by the tick."""
    # before the review: both were accepted, the tick refused the second into last_error
    import diag
    r = started()
    diag.attach(r.app)
    try:
        assert diag.set("pre_alarm_trip_v", 2.9) is True
        assert diag.set("bank_uv_cell_v", 2.95) is False
        out = capsys.readouterr().out
        assert "not changed" in out and "pre-alarm must trip above the low-bank-voltage trip" in out
        assert r.app.inbox.pending() == 1
        r.run_for(100)
        assert r.app.inbox.last_error is None and r.app.inbox.applied == 1
        assert (r.s.get("pre_alarm_trip_v"), r.s.get("bank_uv_cell_v")) == (2.9, 2.75)
        # applied: checked against the stored settings now
        assert diag.set("bank_uv_cell_v", 2.95) is False
        assert diag.set("bank_uv_cell_v", 2.85) is True
        # a change that needs a waiting one is accepted: trip 3.25 needs the reset above it
        assert diag.set("pre_alarm_reset_v", 3.35) is True
        assert diag.set("pre_alarm_trip_v", 3.25) is True
        r.run_for(100)
        assert r.app.inbox.last_error is None
        assert (r.s.get("pre_alarm_trip_v"), r.s.get("pre_alarm_reset_v"), r.s.get("bank_uv_cell_v")) == \
            (3.25, 3.35, 2.85)
    finally:
        diag.attach(None)


@pytest.mark.parametrize("name", [None, 3, ("cell_uv_trip_v",), ["x"], {"a": 1}])
def test_diag_set_with_a_name_that_is_not_a_str_says_why(name, capsys):
    import diag
    r = started()
    diag.attach(r.app)
    try:
        assert diag.set(name, 2.7) is False
        out = capsys.readouterr().out
        assert out.startswith("not changed: no setting %r" % (name,)) and out.endswith("(diag.get() lists them all)\n")
        assert r.app.inbox.pending() == 0
    finally:
        diag.attach(None)


@pytest.mark.parametrize("value", ["off", "on", 0, 1, None, "False"])
def test_diag_soft_switch_takes_only_true_or_false(value):
    # before the review: bool("off") is True, so soft_switch("off") switched the BMS on
    import diag
    r = started()
    diag.attach(r.app)
    try:
        assert diag.soft_switch(value) is False
        assert r.app.inbox.pending() == 0
        r.run_for(100)
        assert r.st.soft_on and r.app.inbox.applied == 0
        diag.soft_switch(False)
        assert r.app.inbox.pending() == 1
        r.run_for(100)
        assert not r.st.soft_on
    finally:
        diag.attach(None)
