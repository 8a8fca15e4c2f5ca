"""Clock jumps (issue 12's fault matrix, docs/reliability.md, "Clock jumps").

The firmware keeps no wall clock: every delay, age and integral runs on
``ticks_ms`` differences (``ticks.ticks_diff``). On the board ``ticks_ms`` only
moves forward, in steps of one tick, unless the loop stalls (a long flash
erase, a garbage collection); a stall longer than the watchdog's 5 s resets the
board. The host's virtual clock can do worse, so these tests jump it:

- forward by less than the watchdog (a stall): delays count the real time that
  passed; the answer waiting in the UART is read and judged, the next poll
  brings a fresh one; a stall is no link fault (no W-B05: the ring answered
  every poll sent; a stall past 5 s is the watchdog's), and nothing is
  withdrawn that would not have been;
- backward (impossible on the board, a broken clock source): the tick counts
  for nothing (dt 0), no age or integral goes negative, protection still acts;
- across the 2**30 wrap with a delay running: the delay ends on time.
"""
import bms  # noqa: F401  (the module under test)
import codes as C
from bmsutil import Rig, codes


def _uv_trip(stall_at=None, stall_ms=0):
    r = Rig()
    r.run(2000)
    r.set_cell(2700)                       # in the reading at 2.2 s
    r.run(10000)
    assert r.st.active[C.W_B01] and r.st.atd
    if stall_at is not None:
        r.run(stall_at - 100)
        r.at(stall_at + stall_ms)          # the loop stalled: no tick for stall_ms
        assert set(codes(r.st)) <= set(["W-B01", "A-B01"])      # no link code: the ring answered
    r.run(40000)
    return [t for t, v in r.transitions("load_disconnect") if v == 0][1:]


def test_a_stall_shorter_than_the_watchdog_is_counted_as_the_time_that_passed():
    # A-B01 comes as long after the 2.7 V reading in real time as without the
    # stall: the stall is not added to the delay (nor the delay skipped).
    plain = _uv_trip()
    assert plain == [33200]
    assert _uv_trip(10000, 4500) == plain
    # A stall across the moment ATD was due: the first tick after it acts.
    assert _uv_trip(30000, 4900) == [34900]
    assert _uv_trip(33100, 100) == plain


def test_stalls_shorter_than_the_watchdog_raise_no_code_and_withdraw_nothing():
    r = Rig()
    r.run(2000)
    for stall in (4400, 4900, 2000, 4999):
        r.at(r.t + stall)                  # no tick for that long
        assert codes(r.st) == [] and r.st.atd and r.st.atc
        r.run_for(300)
        assert codes(r.st) == [] and r.st.atd and r.st.atc
    r.run_for(60000)
    assert codes(r.st) == [] and r.st.atd and r.st.atc
    # No withdrawal at any time: the link answered every poll the BMS sent.
    assert [v for t, v in r.transitions("load_disconnect")] == [0, 1]
    assert [v for t, v in r.transitions("charge_disconnect")] == [0, 1]


def test_a_backward_jump_counts_for_nothing_and_protection_still_acts():
    r = Rig()
    r.run(2000)
    r.app.monitor.set_soc(50)
    for b in r.batteries:
        b.current_ma = -50000
    r.set_cell(2700)                        # in the reading at 2.2 s: A-B01 due at 33.2 s
    r.run(10000)
    consumed = r.app.monitor.consumed_mah
    r.clock.elapsed_ms = 0                  # the clock source jumps 10 s back
    r.t = 0
    st = r.at(100)                          # this tick's dt is 0
    assert codes(st) == ["W-B01"]           # no age went negative, none grew
    assert r.app.monitor.consumed_mah == consumed
    # Protection still acts: A-B01 once the 23.2 s it had left have been
    # counted after the jump (the jump's tick counted nothing).
    t = r.until(lambda s: not s.atd, 60000)
    assert t == 100 + 23200 and "A-B01" in codes(r.st)
    assert r.app.monitor.consumed_mah < consumed          # and the monitor counts on


def test_a_delay_running_across_the_tick_counter_wrap_ends_on_time():
    # The rig's clock starts 5 s before ticks_ms wraps (2**30 ms): start at
    # 60 s before instead, and trip 30 s before the wrap.
    r = Rig(start=60000)
    r.run(30000)
    r.set_cell(2700)                        # in the reading at 30.2 s; the wrap at 60 s
    r.run(90000)
    # 31 s after its reading, as far from the wrap (test_a_stall_...: 2.2 s -> 33.2 s)
    assert r.transitions("load_disconnect") == [(0, 0), (100, 1), (61200, 0)]
