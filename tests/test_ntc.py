"""firmware/ntc.py: NTC pin voltage -> 0.1 °C, checked against the independent
conversion of host_tools/power.py (the one the tests and the simulator drive the
ADC pins with)."""
import pytest

import host_tools
from host_tools import power

host_tools.use_firmware()
import board as BD  # noqa: E402
import ntc  # noqa: E402
from ntc import SENSOR_OPEN, SENSOR_SHORT, Ntc  # noqa: E402

BOARD = BD.load(host_tools.board_path("esp32-devkitc"))


def sensor(name):
    a = BOARD["analog"][name]
    return Ntc(a["r25_ohm"], a["beta"], a["series_ohm"], a["supply_mv"])


@pytest.mark.parametrize("name", ["alternator_temp", "bms_temp"])
def test_round_trip_through_the_pin_within_half_a_degree_from_minus_20_to_120_c(name):
    n = sensor(name)
    worst = 0.0
    for tenth in range(-200, 1201, 5):
        c = tenth / 10
        dc = n.dc(power.pin_mv(BOARD, name, c))
        assert dc not in (SENSOR_OPEN, SENSOR_SHORT), c
        worst = max(worst, abs(dc / 10 - c))
    assert worst <= 0.5


def test_the_table_falls_with_temperature_and_matches_the_divider():
    n = sensor("bms_temp")
    t = list(n.mv)
    assert len(t) == (ntc.MAX_C - ntc.MIN_C) // ntc.STEP_C + 1
    assert all(a > b for a, b in zip(t, t[1:]))
    assert t[(25 - ntc.MIN_C) // ntc.STEP_C] == 1650          # 10 k against 10 k at 25 °C: half of 3.3 V
    for i, mv in enumerate(t):
        c = ntc.MIN_C + i * ntc.STEP_C
        assert abs(mv - power.pin_mv(BOARD, "bms_temp", c)) <= 1 or power.pin_mv(BOARD, "bms_temp", c) == 3100


def test_table_points_convert_exactly():
    n = sensor("bms_temp")
    for i, mv in enumerate(n.mv):
        if mv >= ntc.OPEN_MV:          # colder than the ESP32's ADC can show through 10k/10k
            assert n.dc(mv) == SENSOR_OPEN and ntc.MIN_C + i * ntc.STEP_C < -20
        else:
            assert n.dc(mv) == (ntc.MIN_C + i * ntc.STEP_C) * 10


def test_hotter_reads_higher():
    n = sensor("alternator_temp")
    readings = [n.dc(mv) for mv in range(n.mv[0], n.mv[-1] - 1, -7)]
    assert all(a <= b for a, b in zip(readings, readings[1:]))


@pytest.mark.parametrize("where", ["open", "short"])
def test_beyond_the_table_is_a_sensor_fault(where):
    n = sensor("bms_temp")
    if where == "open":                  # pulled up to the supply: the ESP32 ADC tops out near 3.1 V
        assert n.dc(3300) == SENSOR_OPEN and n.dc(3100) == SENSOR_OPEN and n.dc(ntc.OPEN_MV) == SENSOR_OPEN
        assert n.dc(ntc.OPEN_MV - 1) != SENSOR_OPEN     # about -25 degC with 10k/10k: still a reading
        assert n.dc(n.mv[0]) == ntc.MIN_C * 10 or n.mv[0] >= ntc.OPEN_MV
    else:                                # at ground
        assert n.dc(0) == SENSOR_SHORT and n.dc(ntc.SHORT_MV) == SENSOR_SHORT
        assert n.dc(n.mv[-1] - 1) == ntc.MAX_C * 10 and n.dc(n.mv[-1]) == ntc.MAX_C * 10


def test_sensor_faults_cannot_be_a_temperature():
    assert SENSOR_OPEN < ntc.MIN_C * 10 - 1000 and SENSOR_SHORT < ntc.MIN_C * 10 - 1000


def test_pin_mv_is_the_divider_at_25_c():
    assert ntc.pin_mv(25, 10000, 3950, 10000, 3300) == pytest.approx(1650.0)
    assert ntc.pin_mv(100, 10000, 3950, 10000, 3300) < ntc.pin_mv(0, 10000, 3950, 10000, 3300)
