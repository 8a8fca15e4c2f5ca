"""firmware/status.py: the status record every reader takes the BMS's state from."""
import types

import host_tools
from bankutil import make_bank
from bmsutil import Battery, Rig

host_tools.use_firmware()
import codes as C  # noqa: E402
import inputs as I  # noqa: E402
from status import Status  # noqa: E402


def test_a_new_record_says_startup_and_allows_nothing():
    st = Status()
    assert st.startup and not st.stopped and st.ticks == 0 and st.uptime_s == 0
    assert st.readings_at_once == 0
    assert list(st.allowed) == [0] * C.N_PORTS and list(st.reasons) == [0] * C.N_PORTS
    assert not st.atc and not st.atd
    assert list(st.active) == [0] * C.N_CODES and st.active_codes() == []
    assert not st.pre_alarm and not st.pre_alarm_out and not st.led_on
    assert st.bank is None and st.batteries == 0 and st.soc_pct10 == -1 and st.ttg_min == -1
    assert st.link_answered_pct == 100


def test_atc_atd_reasons_and_codes_read_the_arrays():
    st = Status()
    st.allowed[C.PORT_ATC] = 1
    st.reasons[C.PORT_ATD] = (1 << C.A_B01) | C.BIT_STARTUP
    st.active[C.A_B01] = 1
    st.active[C.W_B01] = 1
    assert st.atc and not st.atd
    assert st.reason_list(C.PORT_ATD) == [C.REASON_STARTUP, "A-B01"]
    assert st.reason_list(C.PORT_ATC) == []
    assert st.active_codes() == ["W-B01", "A-B01"]


def test_the_tick_fills_the_record():
    r = Rig(batteries=[Battery(serial="A", current_ma=-3000), Battery(serial="B", current_ma=-1000)])
    st = r.st
    assert st.active is r.app.diagnosis.active              # the diagnosis's own flags, no copy
    r.at(0)
    assert st.ticks == 1 and st.startup and st.batteries == 0 and st.bank is None
    assert not st.atd and st.reason_list(C.PORT_ATD) == [C.REASON_STARTUP]
    r.run(1500)
    assert st.ticks == 16 and st.uptime_s == 1 and st.readings_at_once == 1
    assert not st.startup and st.atc and st.atd and st.allowed[C.PORT_SYS_DIS] == 1
    assert st.batteries == 2 and st.expected_batteries == 2 and st.complete
    assert st.bank is r.app.link.bank and st.bank.count == 2
    assert st.reading_age_ms == 0                            # a reading every tick: this one answers the poll at 1.4 s
    assert st.current_ma == -4000 and st.current_known and st.current_source == I.SOURCE_RECORDS
    assert st.soc_pct10 == -1 and st.ttg_min == -1 and st.consumed_mah == 0
    assert st.remote_on and st.remote_terminal_on and st.soft_on and st.remote_state == I.REMOTE_LOOP
    assert st.link_frames_ok == 15 and st.link_rejected == 0 and st.link_answered_pct == 100
    assert st.link_seq == r.app.link.bank_seq == 15 and r.app.link.seq == 16     # polls 1 .. 16 at 0 .. 1.5 s
    assert not st.pre_alarm and not st.pre_alarm_out and not st.led_on


def test_the_record_shows_a_reading_going_stale():
    r = Rig()
    r.run(1000)
    r.answer = False
    r.run(12000)
    st = r.st
    assert st.reading_age_ms == 10900 and st.bank is not None and st.batteries == 1   # last reading at 1.1 s
    assert not st.current_known and st.current_source == I.SOURCE_NONE
    assert st.active_codes() == ["W-B05"] and st.pre_alarm and st.pre_alarm_out
    assert st.link_answered_pct < 100


def test_readers_need_only_the_record():
    """diag builds every line about the bank, outputs and codes from ``status``."""
    import diag
    st = Status()
    st.startup = False
    st.bank = make_bank(n=2)
    st.batteries = 2
    st.expected_batteries = 2
    st.allowed[:] = bytearray([1, 0, 1, 1, 0])
    st.reasons[C.PORT_ATD] = 1 << C.A_B07
    st.reasons[C.PORT_SYS_DIS] = 1 << C.A_B07
    st.active[C.A_B07] = 1
    st.active[C.W_B07] = 1
    st.pre_alarm = st.pre_alarm_out = True
    st.soc_pct10 = 95
    app = types.SimpleNamespace(status=st)
    text = "\n".join(diag.bank_lines(app) + diag.monitor_lines(app) + diag.output_lines(app) + diag.code_lines(app))
    assert "2 of 2 batteries answered" in text
    assert "load disconnect (ATD)    off  (A-B07)" in text
    assert "charge disconnect (ATC)  ON" in text
    assert "pre-alarm                ON   (W-B07)" in text
    assert "SoC 9.5 %" in text
    assert "A-B07 alarm   low state of charge (discharge limit)" in text


def test_uptime_counts_whole_seconds_and_stays_a_small_int():
    r = Rig()
    r.run(2000)
    r.app.tick(r.clock.ticks_ms())                      # dt 0: nothing counted
    assert r.st.uptime_s == 2
    for _ in range(3):                                  # 3 x 12.4 days of ticks_ms
        r.clock.elapsed_ms += (1 << 29) - 1
        r.app.tick(r.clock.ticks_ms())
    assert r.st.uptime_s == 2 + 3 * ((1 << 29) - 1) // 1000 and r.st.uptime_s < 1 << 30


def test_readings_decided_at_once_are_counted():
    r = Rig(batteries=2)
    r.run(3000)
    r.batteries[1].present = False                      # last read with it at 3.1 s
    r.run(5900)
    r.batteries[1].present = True                       # back at 6.1 s, link_lost_warn_s later: unwatched
    r.run(7000)
    assert r.st.readings_at_once == 2                   # the first, and the one it came back in
