"""firmware/board.py and firmware/hw.py: board files as data, polarity, safe state."""
import copy
import json

import pytest

import host_tools

host_tools.use_firmware()
import board as B  # noqa: E402

DEVKITC = json.load(open(host_tools.board_path("esp32-devkitc")))


def test_devkitc_board_is_valid_and_every_pin_is_usable(pin_mock):
    import hw
    b = B.load(host_tools.board_path("esp32-devkitc"))
    h = hw.Hardware(b)                 # the pin mock refuses any pin the chip refuses
    assert all(pin_mock.level(o["pin"]) == 0 for o in b["outputs"].values())


@pytest.mark.parametrize("change,words", [
    (lambda b: b.pop("link_uart"), "lacks 'link_uart'"),
    (lambda b: b.update(model=12), "'model' must be a model profile name"),
    (lambda b: b["outputs"]["pre_alarm"].update(pin=25), "used by both"),
    (lambda b: b["outputs"].update(buzzer={"pin": 4}), "unknown output"),
    (lambda b: b["inputs"]["remote_h"].update(adc_pin=17), "link UART pin 17"),
    (lambda b: b["link_uart"].update(baudrate="fast"), "integer"),
    (lambda b: b["inputs"]["remote_l"].update(divider_x1000=500), "divider"),
])
def test_bad_board_files_are_refused(change, words):
    b = copy.deepcopy(DEVKITC)
    change(b)
    with pytest.raises(B.BoardError, match=words):
        B.validate(b)


def test_polarity_and_safe_state(pin_mock):
    import hw
    b = copy.deepcopy(DEVKITC)
    b["outputs"]["charge_disconnect"]["active_high"] = False
    del b["outputs"]["system_discharge"]
    h = hw.Hardware(B.validate(b))
    assert pin_mock.level(26) == 1                       # active-low output starts off = high
    h.set_output(B.OUT_CHARGE_DISCONNECT, True)
    h.set_output(B.OUT_LOAD_DISCONNECT, True)
    h.set_output(B.OUT_SYSTEM_DISCHARGE, True)           # absent on this board: ignored
    assert (pin_mock.level(26), pin_mock.level(25)) == (0, 1)
    h.all_safe()
    assert (pin_mock.level(26), pin_mock.level(25)) == (1, 0)


def test_remote_voltages_through_the_divider(pin_mock):
    import hw
    h = hw.Hardware(B.validate(copy.deepcopy(DEVKITC)))
    pin_mock.set_adc_mv(34, 600)                         # 600 mV at the pin
    assert h.remote_l_mv() == 600 * 22277 // 1000


SHUNT = json.load(open(host_tools.board_path("esp32-devkitc-shunt")))


@pytest.mark.parametrize("pin_mv,ma", [(1650, 0), (1800, 10000), (1500, -10000), (3100, 96666), (200, -96666)])
def test_shunt_current_both_ways(pin_mock, pin_mv, ma):
    import hw
    h = hw.Hardware(B.validate(copy.deepcopy(SHUNT)))
    pin_mock.set_adc_mv(36, pin_mv)
    assert h.has_shunt and h.shunt_ma() == ma


@pytest.mark.parametrize("change,words", [
    (lambda b: b["current"].update(source="hall"), "source"),
    (lambda b: b["current"].update(uv_per_a=5), "uv_per_a"),
    (lambda b: b["current"].update(adc_pin=34), "used by both"),
])
def test_bad_shunt_definitions_are_refused(change, words):
    b = copy.deepcopy(SHUNT)
    change(b)
    with pytest.raises(B.BoardError, match=words):
        B.validate(b)


def test_calibrating_the_zero_through_diag(pin_mock, capsys):
    import bms
    import diag
    import hw
    from settings import Settings
    app = bms.Bms(hw.Hardware(B.validate(copy.deepcopy(SHUNT))), Settings())
    pin_mock.set_adc_mv(36, 1680)                       # 2 A of offset at rest
    assert diag.calibrate_current_zero(app) == 2000
    assert app.settings.get("current_zero_offset_a") == 0.0    # posted: the next tick applies it
    app.tick(0)
    assert app.settings.get("current_zero_offset_a") == 2.0
    assert app.status.current_ma == 0 and app.status.current_known
    pin_mock.set_adc_mv(36, 1680 + 150)                 # +10 A
    app.tick(100)
    assert app.status.current_ma == 10000
    pin_mock.set_adc_mv(36, 3100)                       # far off: refused, nothing changed
    assert diag.calibrate_current_zero(app) is None
    app.tick(200)
    assert app.settings.get("current_zero_offset_a") == 2.0
    plain = bms.Bms(hw.Hardware(B.validate(copy.deepcopy(DEVKITC))), Settings())
    assert diag.calibrate_current_zero(plain) is None
    assert "no shunt" in capsys.readouterr().out


# ----- power ports: analog sensors, the gate PWM, the comparator -----------------

DEVKITC_NO_PORTS = copy.deepcopy(DEVKITC)
for _name in ("alternator_port", "system_charge", "system_discharge", "system_precharge"):
    DEVKITC_NO_PORTS["outputs"].pop(_name)
DEVKITC_NO_PORTS.pop("analog")
DEVKITC_NO_PORTS.pop("short_circuit")


@pytest.mark.parametrize("values", [
    dict(alternator_a=0.0, alternator_v=0.0, lithium_v=13.2, system_v=0.0, alternator_temp=25.0, bms_temp=25.0),
    dict(alternator_a=100.0, alternator_v=14.4, lithium_v=13.9, system_v=13.9, alternator_temp=95.0,
         bms_temp=-10.0),
    dict(alternator_a=-5.0, alternator_v=12.0, lithium_v=12.8, system_v=1.5, alternator_temp=120.0, bms_temp=80.0),
])
def test_sense_reads_the_sensors_as_host_tools_power_drives_them(pin_mock, values):
    import hw
    from host_tools import power
    b = B.validate(copy.deepcopy(DEVKITC))
    for pin, mv in power.levels(b, 450, **values).items():
        pin_mock.set_adc_mv(pin, mv)
    h = hw.Hardware(b)
    h.sense()
    # 1 mV at a pin is 6 mV through the dividers, 50 µV across the fuse (gain 20), well under 0.5 °C
    assert abs(h.drop_uv - values["alternator_a"] * 450) <= 50
    for got, name in ((h.in_mv, "alternator_v"), (h.li_mv, "lithium_v"), (h.sys_mv, "system_v")):
        assert abs(got - values[name] * 1000) <= 6, name
    assert abs(h.alt_temp_dc - values["alternator_temp"] * 10) <= 5
    assert abs(h.bms_temp_dc - values["bms_temp"] * 10) <= 5


def test_a_board_without_a_sensor_senses_none(pin_mock):
    import hw
    h = hw.Hardware(B.validate(copy.deepcopy(SHUNT)))      # no alternator NTC
    h.sense()
    assert h.alt_temp_dc is None and h.bms_temp_dc is not None and h.in_mv is not None
    h2 = hw.Hardware(B.validate(copy.deepcopy(DEVKITC_NO_PORTS)))
    h2.sense()
    assert (h2.in_mv, h2.li_mv, h2.sys_mv, h2.drop_uv, h2.alt_temp_dc, h2.bms_temp_dc) == (None,) * 6


def test_the_alternator_gate_is_a_pwm_and_all_safe_stops_it(pin_mock):
    import hw
    h = hw.Hardware(B.validate(copy.deepcopy(DEVKITC)))
    h.set_duty(B.OUT_ALTERNATOR_PORT, 30000)
    assert pin_mock.pwm_duty(18) == 30000 and h.state[B.OUT_ALTERNATOR_PORT] == 1
    h.set_output(B.OUT_ALTERNATOR_PORT, True)               # switched: full on
    assert pin_mock.pwm_duty(18) == 65535
    h.all_safe()
    assert pin_mock.pwm_duty(18) == 0 and h.state[B.OUT_ALTERNATOR_PORT] == 0


@pytest.mark.parametrize("active_high", [True, False])
def test_the_comparator_opens_the_system_gates_in_its_interrupt(pin_mock, active_high):
    import hw
    b = copy.deepcopy(DEVKITC)
    b["short_circuit"]["active_high"] = active_high
    idle, fire = (0, 1) if active_high else (1, 0)
    pin_mock.drive(4, idle)
    h = hw.Hardware(B.validate(b))
    for i in (B.OUT_SYSTEM_CHARGE, B.OUT_SYSTEM_DISCHARGE, B.OUT_SYSTEM_PRECHARGE, B.OUT_LOAD_DISCONNECT):
        h.set_output(i, True)
    pin_mock.drive(4, idle)                                  # no edge: nothing
    assert h.shorts == 0 and pin_mock.level(19) == 1
    pin_mock.drive(4, fire)
    assert h.shorts == 1
    assert (pin_mock.level(19), pin_mock.level(23), pin_mock.level(22)) == (0, 0, 0)
    assert pin_mock.level(25) == 1                          # the load disconnect is not System+
    pin_mock.drive(4, idle)                                  # the release is no second short
    assert h.shorts == 1
    h.set_output(B.OUT_SYSTEM_CHARGE, True)                  # the state followed the pins: a write lands
    assert pin_mock.level(19) == 1


@pytest.mark.parametrize("change,words", [
    (lambda b: b["outputs"]["pre_alarm"].update(pwm_hz=1000), "alternator_port only"),
    (lambda b: b["outputs"]["alternator_port"].update(pwm_hz=50), "pwm_hz"),
    (lambda b: b["outputs"]["alternator_port"].pop("pwm_hz"), "needs pwm_hz"),
    (lambda b: b["analog"].pop("alternator_a"), "needs the analog sensor 'alternator_a'"),
    (lambda b: b["analog"].update(oil_temp={"adc_pin": 35}), "unknown analog sensor"),
    (lambda b: b["analog"]["lithium_v"].update(divider_x1000=999), "divider_x1000"),
    (lambda b: b["analog"]["bms_temp"].update(beta=0), "beta"),
    (lambda b: b["analog"]["system_v"].update(adc_pin=34), "used by both"),
    (lambda b: b["short_circuit"].update(pin=19), "used by both"),
    (lambda b: b["short_circuit"].update(active_high="yes"), "active_high"),
])
def test_bad_power_port_definitions_are_refused(change, words):
    b = copy.deepcopy(DEVKITC)
    change(b)
    with pytest.raises(B.BoardError, match=words):
        B.validate(b)


@pytest.mark.parametrize("amps", [0.0, 50.0, -5.0])
def test_the_shunt_board_reads_the_fuse_drop_and_the_bank_shunt_each_against_its_own_zero(pin_mock, amps):
    """esp32-devkitc-shunt has two current amplifiers with different zeros (1.65 V
    for the bank shunt, 0.1 V for the fuse drop): neither may borrow the other's."""
    import hw
    from host_tools import power
    b = B.load(host_tools.board_path("esp32-devkitc-shunt"))
    for pin, mv in power.levels(b, 450, alternator_a=amps).items():
        pin_mock.set_adc_mv(pin, mv)
    pin_mock.set_adc_mv(b["current"]["adc_pin"], b["current"]["zero_uv"] // 1000)     # the bank shunt at 0 A
    h = hw.Hardware(b)
    h.sense()
    assert abs(h.drop_uv - amps * 450) <= 50 and h.shunt_ma() == 0


def test_a_short_between_the_gates_check_and_its_write_still_leaves_the_gate_open(pin_mock):
    """The comparator's interrupt can land inside SystemGate.apply, after it
    checked the short count and before it wrote the pin: the gate must end open."""
    import hw
    import models as PF
    import ports
    b = B.validate(copy.deepcopy(DEVKITC))
    h = hw.Hardware(b)

    class Sys:
        charge = False
        discharge = True
        precharge = False
        seen_shorts = 0
    gate = ports.SystemGate(h, B.OUT_SYSTEM_DISCHARGE, Sys(), PF.SYS_GATE_DISCHARGE)
    write = h.set_output
    fired = []

    def set_output(i, on):
        if not fired:
            fired.append(1)
            h._on_short(None)              # the interrupt, just before the write
        write(i, on)
    h.set_output = set_output
    gate.apply(None, 100)
    assert h.shorts == 1 and pin_mock.level(b["outputs"]["system_discharge"]["pin"]) == 0
