"""Portable: the firmware's own main loop on the pin mock, closed-loop with a tiny
battery model, on both interpreters; pin timing from the mock's transitions."""
import machine
import main
import board as BD
import codes as C
import inbox as I
import link as L
from mp_ring import TEST_BOARD
from pt_util import Clock, fresh, frame, record

BOARD = TEST_BOARD


class World:
    """One battery whose weakest cell sags 20 mV a second while ATD is on."""

    def __init__(self, clock, cell_mv):
        self.clock = clock
        self.cell_mv = cell_mv
        self.uart = machine.MemoryBackend()
        machine.attach_uart(2, self.uart)
        machine.set_adc_mv(34, 300)
        machine.set_adc_mv(35, 300)
        self.ms = 0
        self.current_ma = 0

    def step(self, ms):
        self.ms += ms
        if machine.level(25) == 1 and self.ms % 1000 == 0:
            self.cell_mv -= 20
        sent = self.uart.sent
        while len(sent) >= L.POLL_LEN:
            seq = sent[4]
            self.uart.sent = sent = sent[L.POLL_LEN:]
            self.uart.feed(frame(seq, [record(1, (3300, self.cell_mv, 3300, 3300), (200,),
                                              current_ma=self.current_ma)]))


def booted(cell_mv, start=0):
    """A fresh pin mock, a one-battery world and the BMS on it: (clock, app)."""
    clock = Clock(start=start)
    fresh(clock)
    world = World(clock, cell_mv)
    clock.on_sleep = world.step
    clock.world = world
    return clock, main.bms.Bms(main.hw.Hardware(BD.validate(BOARD)), main.settings.Settings())


def test_discharge_pre_alarm_then_atd_30_s_later_on_the_pins():
    clock, app = booted(3200, start=(1 << 30) - 5000)
    main.run(app, clock, lambda: clock.elapsed < 200000 and app.status.atd or clock.elapsed < 1000)
    pre = machine.pin_transitions(27)
    load = machine.pin_transitions(25)
    assert [v for _, v in pre] == [0, 1] and [v for _, v in load] == [0, 1, 0]
    lead = (load[2][0] - pre[1][0]) % (1 << 30)
    assert 30000 <= lead <= 30200, lead
    assert app.status.active_codes() == ["W-B01", "A-B01"]
    assert app.status.reason_list(C.PORT_ATD) == ["A-B01"] and app.status.atc


def test_crash_leaves_outputs_safe():
    clock, app = booted(3300)
    main.run(app, clock, lambda: clock.elapsed < 1000)
    assert machine.level(25) == 1

    def boom(now):
        raise ValueError("injected")
    app.tick = boom
    try:
        main.run(app, clock)
        assert False, "no error"
    except ValueError:
        pass
    assert machine.level(25) == 0 and machine.level(26) == 0 and app.status.stopped


def test_diag_status_output():
    import diag
    clock, app = booted(2500)
    main.run(app, clock, lambda: clock.elapsed < 1000)
    lines = diag.bank_lines(app) + diag.output_lines(app) + diag.code_lines(app)
    text = "\n".join(lines)
    assert "load disconnect (ATD)" in text and "(A-B01)" in text
    assert "A-B01 alarm" in text


def test_a_crash_is_logged_with_its_traceback_and_the_log_stays_small():
    import crashlog
    path = "crash_test.log"
    crashlog.clear(path)
    clock, app = booted(3300)

    def broken(now):
        raise KeyError("sensor table")
    app.tick = broken
    for _ in range(40):
        try:
            main.run(app, clock, None, path)
        except KeyError:
            pass
    text = crashlog.read(path)
    assert "KeyError" in text and "sensor table" in text and "broken" in text
    assert len(text) <= crashlog.MAX_BYTES
    assert app.status.stopped
    crashlog.clear(path)
    assert crashlog.read(path) == ""


def test_the_watchdog_is_fed_every_tick():
    clock, app = booted(3300)
    app.hw.start_watchdog(2000)
    start = len(machine.wdt_feeds)
    main.run(app, clock, lambda: clock.elapsed < 3000)
    feeds = machine.wdt_feeds[start:]
    assert len(feeds) == app.ticks
    gaps = [(b - a) % (1 << 30) for a, b in zip(feeds, feeds[1:])]
    assert max(gaps) == 100


def test_commands_wait_for_the_tick_and_a_user_action_releases_the_latch():
    clock, app = booted(2600)                  # the first reading: A-B01 at once
    main.run(app, clock, lambda: clock.elapsed < 2000)
    assert not app.status.atd
    world = clock.world
    world.cell_mv = 3300                       # relaxed, not recharged: still withdrawn
    main.run(app, clock, lambda: clock.elapsed < 20000)
    # the pre-alarm is held for pre_alarm_hold_s (60 s) after the cells are back
    assert not app.status.atd and app.status.active_codes() == ["W-B01", "A-B01"]
    app.inbox.post((I.SOFT_SWITCH, False))
    assert app.status.soft_on                  # not until the tick
    main.run(app, clock, lambda: clock.elapsed < 20500)
    assert not app.status.soft_on and not app.status.atd
    app.inbox.post((I.SOFT_SWITCH, True))      # off and on again: a user action
    main.run(app, clock, lambda: clock.elapsed < 21000)
    assert app.status.atd and machine.level(25) == 1
    assert app.inbox.applied == 2 and app.inbox.last_error is None
    assert app.status.active_codes() == ["W-B01"]      # a user action does not release the pre-alarm
    assert machine.pin_transitions(27) == [(0, 0), (100, 1)]


def test_the_status_record_after_ticks():
    clock, app = booted(3300, start=(1 << 30) - 300)
    world = clock.world
    world.current_ma = -5000
    main.run(app, clock, lambda: clock.elapsed < 2500)
    st = app.status
    assert st.ticks == 25 and st.uptime_s == 2 and not st.startup
    assert st.batteries == 1 and st.expected_batteries == 1 and st.complete
    assert st.current_ma == -5000 and st.current_known
    # a poll every tick (0 .. 2.4 s), each answered in the sleep after it: 24 read by 2.4 s
    assert st.atd and st.atc and st.active_codes() == [] and st.link_frames_ok == 24
    for v in (st.uptime_s, st.reading_age_ms, st.current_ma, st.link_answered_pct):
        assert type(v) is int
