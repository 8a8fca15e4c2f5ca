"""firmware/indicators.py: the seven Smart BMS 12/200 indicators and the smallBMS
NG error LED as bits of ``status.leds`` (behaviour §8), tick by tick."""
import pytest

import host_tools

host_tools.use_firmware()
import codes as C  # noqa: E402
import indicators as L  # noqa: E402
from indicators import Indicators  # noqa: E402
from status import Status  # noqa: E402


class Alt:
    def __init__(self, on=False, current_ma=0):
        self.on = on
        self.current_ma = current_ma


class Sys:
    def __init__(self, charge=False):
        self.charge = charge


class Leds:
    def __init__(self):
        self.ind = Indicators()
        self.st = Status()
        self.st.startup = False
        self.alt = Alt()
        self.sys = Sys()
        self.derating = False
        self.t = -100
        self.seen = {}               # LED -> [(t, lit)] per tick

    def tick(self, dt=100):
        self.ind.update(self.st, dt, self.alt, self.sys, self.derating)
        self.t += dt
        for led in range(len(L.LED_NAMES)):
            self.seen.setdefault(led, []).append((self.t, (self.st.leds >> led) & 1))
        return self.st.leds

    def run(self, ms):
        for _ in range(ms // 100):
            self.tick()

    def lit(self, led):
        return bool((self.st.leds >> led) & 1)

    def edges(self, led, since=0):
        out = []
        prev = None
        for t, v in self.seen[led]:
            if v != prev and t >= since:
                out.append((t, v))
            prev = v
        return out


def test_led_names_cover_every_bit():
    assert len(L.LED_NAMES) == 8 and L.LED_ERROR == 7
    assert [getattr(L, "LED_" + n.upper()) for n in ("alternator", "bms_temp", "bms_active", "bluetooth")] \
        == [0, 1, 2, 3]


@pytest.mark.parametrize("on,ma,lit", [(True, 500, True), (True, 499, False), (False, 20000, False),
                                       (True, -3000, False)])
def test_the_alternator_led_shows_current_flowing_through_the_port(on, ma, lit):
    x = Leds()
    x.alt = Alt(on, ma)
    x.tick()
    assert x.lit(L.LED_ALTERNATOR) is lit


def test_no_alternator_or_system_port_leaves_their_leds_dark():
    x = Leds()
    x.alt = x.sys = None
    x.run(1000)
    assert not x.lit(L.LED_ALTERNATOR) and not x.lit(L.LED_SYSTEM_CHARGE)


def test_the_bms_temperature_led_blinks_while_derating_and_is_on_with_a_b15():
    x = Leds()
    x.run(2000)
    assert x.edges(L.LED_BMS_TEMP) == [(0, 0)]
    x.derating = True
    x.run(4000)
    edges = x.edges(L.LED_BMS_TEMP, since=2000)
    assert {b[0] - a[0] for a, b in zip(edges[1:], edges[2:])} == {500} and len(edges) >= 7
    x.st.active[C.A_B15] = 1
    x.run(3000)
    assert all(v for _, v in x.seen[L.LED_BMS_TEMP][-30:])
    x.st.active[C.A_B15] = 0
    x.derating = False
    x.tick()
    assert not x.lit(L.LED_BMS_TEMP)


def test_bms_active_blinks_until_the_first_reading_then_stays_on():
    x = Leds()
    x.st.startup = True
    x.run(3000)
    edges = x.edges(L.LED_BMS_ACTIVE)
    assert edges[0] == (0, 1) and {b[0] - a[0] for a, b in zip(edges[1:], edges[2:])} == {500}
    x.st.startup = False
    x.run(3000)
    assert all(v for _, v in x.seen[L.LED_BMS_ACTIVE][-30:])


def test_bluetooth_blinks_while_advertising_and_is_on_while_connected():
    x = Leds()
    x.run(1000)
    assert not x.lit(L.LED_BLUETOOTH)
    x.st.ble_state = L.BLE_ADVERTISING
    x.run(3000)
    edges = x.edges(L.LED_BLUETOOTH, since=1000)
    assert {b[0] - a[0] for a, b in zip(edges[1:], edges[2:])} == {500} and len(edges) >= 5
    x.st.ble_state = L.BLE_CONNECTED
    x.run(2000)
    assert all(v for _, v in x.seen[L.LED_BLUETOOTH][-20:])
    x.st.ble_state = L.BLE_OFF
    x.tick()
    assert not x.lit(L.LED_BLUETOOTH)


def test_charge_load_and_system_charge_leds_follow_atc_atd_and_the_system_charge_gate():
    x = Leds()
    for atc, atd, sys_chg in ((1, 0, False), (0, 1, True), (1, 1, False), (0, 0, True)):
        x.st.allowed[C.PORT_ATC] = atc
        x.st.allowed[C.PORT_ATD] = atd
        x.st.allowed[C.PORT_SYS_CHG] = 1          # the permission alone is not the gate
        x.sys = Sys(sys_chg)
        x.tick()
        assert (x.lit(L.LED_CHARGE), x.lit(L.LED_LOAD), x.lit(L.LED_SYSTEM_CHARGE)) == (bool(atc), bool(atd),
                                                                                          sys_chg)


def test_the_error_led_is_off_blinking_for_warnings_on_for_alarms_and_errors():
    x = Leds()
    x.run(1000)
    assert x.edges(L.LED_ERROR) == [(0, 0)] and not x.st.led_on
    x.st.active[C.W_B01] = 1
    x.run(5000)
    edges = x.edges(L.LED_ERROR, since=1000)
    assert edges[0] == (1000, 1)                      # lit with the first warning
    assert {b[0] - a[0] for a, b in zip(edges[1:], edges[2:])} == {500} and len(edges) >= 9
    x.st.active[C.A_B01] = 1                          # an alarm: steady on
    x.run(3000)
    assert all(v for _, v in x.seen[L.LED_ERROR][-30:]) and x.st.led_on
    x.st.active[C.A_B01] = x.st.active[C.W_B01] = 0
    x.st.active[C.E_B31] = 1                          # an error: steady on
    x.run(2000)
    assert all(v for _, v in x.seen[L.LED_ERROR][-20:]) and x.st.led_on
    x.st.active[C.E_B31] = 0
    x.tick()
    assert not x.lit(L.LED_ERROR) and not x.st.led_on
    x.st.active[C.W_B05] = 1                          # a new warning starts lit again
    x.tick()
    assert x.lit(L.LED_ERROR) and x.st.led_on


def test_led_on_mirrors_the_error_bit_only():
    x = Leds()
    x.st.allowed[C.PORT_ATC] = 1
    x.st.ble_state = L.BLE_CONNECTED
    x.tick()
    assert x.st.leds and not x.st.led_on


def test_every_lit_phase_of_a_blink_lasts_500_ms():
    x = Leds()
    x.run(1000)
    x.st.active[C.W_B01] = 1
    x.run(3000)
    edges = x.edges(L.LED_ERROR, since=1000)
    assert edges[0] == (1000, 1) and edges[1] == (1500, 0)
