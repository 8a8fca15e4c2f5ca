"""firmware/trip.py: the A-A12 retry policy of a power port (pauses 5 s, 20 s,
80 s, then locked until a user action; a retry that holds 60 s forgets)."""
import pytest

import host_tools

host_tools.use_firmware()
from settings import Settings  # noqa: E402
from trip import PortTrip  # noqa: E402


def trip_policy(**overrides):
    s = Settings()
    if overrides:
        s.update(overrides)
    return PortTrip(s), s


def wait_out(t, closed=False, dt=100, limit_ms=10 ** 6):
    """Update until the retry; the ms it took (None if it never came)."""
    ms = 0
    while ms < limit_ms:
        t.update(dt, closed)
        ms += dt
        if not t.tripped:
            return ms
    return None


def test_a_fresh_policy_is_closed_and_counts_nothing():
    t, _ = trip_policy()
    t.update(100, True)
    assert (t.tripped, t.locked, t.wait_ms, t.failed, t.trips) == (False, False, 0, 0, 0)


def test_a_trip_waits_exactly_system_retry_s():
    t, _ = trip_policy()
    t.trip()
    assert t.tripped and not t.locked and t.wait_ms == 5000 and t.failed == 1 and t.trips == 1
    for _ in range(49):
        t.update(100, False)
    assert t.tripped and t.wait_ms == 100
    t.update(100, False)
    assert not t.tripped and t.wait_ms == 0


def test_uneven_ticks_still_wait_the_whole_pause():
    t, _ = trip_policy()
    t.trip()
    t.update(4999, False)
    assert t.tripped and t.wait_ms == 1
    t.update(7, False)
    assert not t.tripped and t.wait_ms == 0


def test_pauses_grow_4x_then_lock_after_system_retries():
    t, _ = trip_policy()
    pauses = []
    for _ in range(3):
        t.trip()
        pauses.append(wait_out(t))
        t.update(100, True)                       # closed briefly: not stable
    assert pauses == [5000, 20000, 80000]
    t.trip()
    assert t.locked and t.tripped and t.wait_ms == 0 and t.trips == 4
    assert wait_out(t, limit_ms=3600 * 1000) is None and t.locked


@pytest.mark.parametrize("retries", [0, 1, 5])
def test_the_number_of_retries_follows_its_setting(retries):
    t, _ = trip_policy(system_retries=retries)
    for _ in range(retries):
        t.trip()
        assert not t.locked
        assert wait_out(t, dt=1000, limit_ms=10 ** 7) is not None
    t.trip()
    assert t.locked


def test_retry_and_stable_times_follow_a_settings_change():
    t, s = trip_policy()
    s.update({"system_retry_s": 2, "system_stable_s": 10})
    t.trip()
    assert wait_out(t) == 2000
    for _ in range(99):
        t.update(100, True)
    assert t.failed == 1
    t.update(100, True)
    assert t.failed == 0


def test_a_retry_that_holds_system_stable_s_forgets_the_earlier_trips():
    t, _ = trip_policy()
    t.trip()
    wait_out(t)
    t.trip()
    wait_out(t)
    assert t.failed == 2
    for _ in range(599):
        t.update(100, True)
    assert t.failed == 2
    t.update(100, True)
    assert t.failed == 0
    t.trip()
    assert t.wait_ms == 5000 and t.trips == 3          # trips since boot are kept


def test_time_open_does_not_count_as_holding():
    t, _ = trip_policy()
    t.trip()
    wait_out(t)
    for _ in range(1000):
        t.update(100, False)                          # allowed but open (e.g. permission withdrawn)
    assert t.failed == 1
    t.trip()
    assert t.wait_ms == 20000


def test_a_user_action_releases_a_lock_or_a_wait_and_forgets_the_series():
    t, _ = trip_policy(system_retries=1)
    t.trip()
    t.user_action()
    assert (t.tripped, t.locked, t.wait_ms, t.failed) == (False, False, 0, 0)
    t.trip()
    wait_out(t)
    t.trip()
    assert t.locked
    t.user_action()
    assert (t.tripped, t.locked, t.failed) == (False, False, 0) and t.trips == 3
    t.trip()
    assert not t.locked and t.wait_ms == 5000
