"""firmware/readout.py: the Instant Readout advertisement (instant-readout.md),
checked against the independent decoders: ``victron-ble`` 0.9.3 (the peer the
spec names) and Home Assistant's ``victron-ble-ha-parser`` 0.8.0.

The status records are the firmware's own ``status.Status`` with a
``bank.Bank`` filled by the firmware's link decoder (``frame.decode_records``)
from records built by ``host_tools.ring`` (the independent encoder), so the
aggregates (bank voltage, hottest sensor) are the ones the BMS really has.
"""

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import host_tools
from host_tools import ble_mock, ring

host_tools.use_firmware()
import bank as B  # noqa: E402
import balancer as BAL  # noqa: E402
import codes as C  # noqa: E402
import frame as F  # noqa: E402
import readout as R  # noqa: E402
import status as S  # noqa: E402

from bluetooth_data_tools import parse_advertisement_data_bytes  # noqa: E402
from victron_ble.devices import detect_device_type  # noqa: E402
from victron_ble.devices.base import AlarmReason, BitReader  # noqa: E402
from victron_ble.devices.lynx_smart_bms import LynxSmartBMS  # noqa: E402
from victron_ble.devices.smart_lithium import BalancerStatus, SmartLithium  # noqa: E402
from victron_ble.exceptions import AdvertisementKeyMismatchError  # noqa: E402

# victron-ble-ha-parser 0.8.0 imports ``home_assistant_bluetooth`` without
# declaring it: requirements.txt pins it, as Home Assistant has it.
from habluetooth import BluetoothServiceInfo  # noqa: E402
from victron_ble_ha_parser.parser import VictronBluetoothDeviceData  # noqa: E402

KEY = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
KEY_HEX = KEY.hex()
OTHER_KEY_HEX = "5f" + KEY_HEX[2:]          # a different first byte: the decoders' key check
ALARM_VALUES = {a.value for a in AlarmReason}
BALANCER_TO_DECODED = {BAL.UNKNOWN: BalancerStatus.UNKNOWN, BAL.BALANCED: BalancerStatus.BALANCED,
                       BAL.IMBALANCED: BalancerStatus.IMBALANCE, BAL.BALANCING: BalancerStatus.BALANCING}
HYP = dict(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- building states
def make_bank(batteries):
    """A ``bank.Bank`` decoded by the firmware from ring records. ``batteries``:
    [(cells_mv, temps_dc, flags, series_pos, current_ma)]; voltage = sum of the cells."""
    recs = [ring.record(i + 1, "SN%d" % (i + 1), 100, 0x0104, sum(cells), ma, flags, spos, list(cells), list(temps))
            for i, (cells, temps, flags, spos, ma) in enumerate(batteries)]
    payload = b"".join(recs)
    bank = B.Bank()
    assert F.decode_records(payload, 0, len(payload), len(recs), bank) == F.DECODE_OK
    assert bank.count == len(batteries)
    return bank


def make_status(bank=None, active=(), current_ma=0, current_known=True, soc_pct10=-1, consumed_mah=0,
                ttg_min=-1, allowed=(1, 1, 1, 1, 1), pre_alarm_out=False, remote_on=True, alternator_on=False,
                system_charge=False, system_discharge=False, soft_on=True, balancer=BAL.UNKNOWN):
    s = S.Status()
    s.bank = bank
    s.batteries = bank.count if bank is not None else 0
    for cid in active:
        s.active[cid] = 1
    s.current_ma = current_ma
    s.current_known = current_known
    s.soc_pct10 = soc_pct10
    s.consumed_mah = consumed_mah
    s.ttg_min = ttg_min
    for p in range(C.N_PORTS):
        s.allowed[p] = allowed[p]
    s.pre_alarm_out = pre_alarm_out
    s.remote_on = remote_on
    s.alternator_on = alternator_on
    s.system_charge = system_charge
    s.system_discharge = system_discharge
    s.soft_on = soft_on
    s.balancer = balancer
    return s


def payload_of(ro):
    """What a scanner reports: the manufacturer data after the company id."""
    company, payload = ble_mock.parse_manufacturer(ro.adv)
    assert company == 0x02E1
    assert payload == bytes(ro.adv[7:])
    return payload


def decode(payload, key_hex=KEY_HEX):
    """victron-ble's decoding; Home Assistant's parser is run on every frame too
    and must give the same sensor values."""
    parser = detect_device_type(payload)
    assert parser is not None
    d = parser(key_hex).parse(payload)
    ha = ha_values(payload, key_hex)
    if parser is LynxSmartBMS:
        want = {"voltage": d.get_voltage(), "current": d.get_current(), "state_of_charge": d.get_soc(),
                "remaining_minutes": d.get_remaining_mins(), "consumed_ampere_hours": d.get_consumed_ah(),
                "battery_temperature": d.get_battery_temperature()}
    else:
        assert parser is SmartLithium
        want = {"battery_voltage": d.get_battery_voltage(), "battery_temperature": d.get_battery_temperature(),
                "balancer_status": d.get_balancer_status().name.lower()}
        for k in range(8):
            want["cell_%d_voltage" % (k + 1)] = d.get_cell_voltages()[k]
    for name, value in want.items():
        assert name in ha and ha[name] == value, (name, ha.get(name), value)
    return d


def plaintext(payload, key_hex=KEY_HEX):
    parser = detect_device_type(payload)
    return parser(key_hex).decrypt(payload)[:R.PAYLOAD_LEN]


def ha_values(payload, key_hex=KEY_HEX):
    """Home Assistant's sensor values (key -> native value) for one advertisement."""
    info = BluetoothServiceInfo("OpenBMS", "AA:BB:CC:DD:EE:FF", -60, {0x02E1: payload}, {}, [], "local")
    upd = VictronBluetoothDeviceData(key_hex).update(info)
    return {str(k.key): v.native_value for k, v in upd.entity_values.items()}


def bms_frame(st, key=KEY, model=0, nonce=0):
    ro = R.Readout(key, model, nonce)
    assert ro.next(st, cells=False) is True
    assert ro.record == R.RECORD_BMS
    return ro, payload_of(ro)


# Independent references (from the spec and the codes table, not readout.py).
def expected_alarm(active):
    alarms = [C.readout_reason(c) for c in range(C.N_CODES)
              if active[c] and C.severity(c) == C.SEVERITY_ALARM and C.readout_reason(c)]
    warnings = [C.readout_reason(c) for c in range(C.N_CODES)
                if active[c] and C.severity(c) == C.SEVERITY_WARNING and C.readout_reason(c)]
    return alarms[0] if alarms else (warnings[0] if warnings else 0)


def expected_error(active):
    errs = [int(C.text(c)[3:]) for c in range(C.N_CODES) if active[c] and C.text(c).startswith("E-")]
    return errs[0] if errs else 0


def expected_io(s):
    bits = [s.allowed[C.PORT_ATC], s.allowed[C.PORT_ATD], s.pre_alarm_out, s.remote_on, s.alternator_on,
            s.system_charge, s.system_discharge, s.soft_on]
    return sum(1 << i for i, b in enumerate(bits) if b)



def check_temp(decoded, dc):
    assert decoded is not None
    if dc <= -400:
        assert decoded == -40
    elif dc >= 865:
        assert decoded == 86                 # 0x7E: the highest the 7-bit field holds
    else:
        assert abs(decoded - dc / 10.0) <= 0.5


# ---------------------------------------------------------------- strategies
cell_mv = st.one_of(st.integers(2400, 4000), st.integers(0, 5000),
                    st.sampled_from([2604, 2605, 2609, 2610, 3849, 3850, 3854, 3855, 3856]))
temp_dc = st.one_of(st.integers(-400, 1000), st.sampled_from([-400, -395, 0, 5, 860, 864, 865, 1000]))


@st.composite
def battery_spec(draw, n_cells=None):
    n = draw(st.sampled_from([4, 8, 16])) if n_cells is None else n_cells
    cells = draw(st.lists(cell_mv, min_size=n, max_size=n))
    temps = draw(st.lists(temp_dc, min_size=1, max_size=4))
    flags = draw(st.integers(0, 3))
    ma = draw(st.integers(-2000000, 2000000))
    return (tuple(cells), tuple(temps), flags, 1, ma)


@st.composite
def bank_strategy(draw):
    n = draw(st.integers(1, 5))
    specs = draw(st.lists(battery_spec(), min_size=n, max_size=n))
    series = draw(st.booleans())
    specs = [(c, t, f, (i + 1 if series else 1), ma) for i, (c, t, f, _, ma) in enumerate(specs)]
    return make_bank(specs)


current_ma = st.one_of(st.integers(-400000, 400000), st.integers(-2 ** 31, 2 ** 31 - 1),
                       st.sampled_from([-3276650, -3276649, -3276600, 3276600, 3276649, 3276650, 0, -50, 50, -49, 49]))
soc = st.one_of(st.just(-1), st.just(0), st.just(1000), st.integers(0, 1000))
ttg = st.one_of(st.just(-1), st.integers(0, 0x1FFFF), st.sampled_from([0, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000]))
consumed = st.one_of(st.integers(-200000000, 5000), st.sampled_from([0, -49, -50, -104857400, -104857449, -104857450]))


@st.composite
def status_strategy(draw, with_bank=None):
    has_bank = draw(st.booleans()) if with_bank is None else with_bank
    bank = draw(bank_strategy()) if has_bank else None
    active = draw(st.lists(st.integers(0, C.N_CODES - 1), max_size=6, unique=True))
    return make_status(
        bank=bank, active=active, current_ma=draw(current_ma), current_known=draw(st.booleans()),
        soc_pct10=draw(soc), consumed_mah=draw(consumed), ttg_min=draw(ttg),
        allowed=draw(st.lists(st.integers(0, 1), min_size=5, max_size=5)),
        pre_alarm_out=draw(st.booleans()), remote_on=draw(st.booleans()), alternator_on=draw(st.booleans()),
        system_charge=draw(st.booleans()), system_discharge=draw(st.booleans()), soft_on=draw(st.booleans()),
        balancer=draw(st.sampled_from([BAL.UNKNOWN, BAL.BALANCED, BAL.IMBALANCED, BAL.BALANCING])))


# ---------------------------------------------------------------- record 0x0A
def check_bms_record(st_, payload, ha=True):
    d = decode(payload)
    assert isinstance(d.get_alarm_flags(), int)
    bank = st_.bank
    # battery voltage (0.01 V, signed 16 bits, 0x7FFF NA)
    if bank is None:
        assert d.get_voltage() is None
    else:
        raw = round(d.get_voltage() * 100)
        if bank.bank_mv <= 327664:
            assert abs(raw * 10 - bank.bank_mv) <= 5
        else:
            assert raw == 0x7FFE
    # current (0.1 A, + = charging)
    if not st_.current_known:
        assert d.get_current() is None
    else:
        raw = round(d.get_current() * 10)
        if -3276650 < st_.current_ma < 3276650:
            assert abs(raw * 100 - st_.current_ma) <= 50
        else:
            assert raw == (32766 if st_.current_ma > 0 else -32766)
    # time to go
    if st_.ttg_min < 0:
        assert d.get_remaining_mins() is None
    else:
        assert d.get_remaining_mins() == min(st_.ttg_min, 0xFFFE)
    # SoC and consumed Ah (NA together while the SoC is unknown)
    reader = BitReader(plaintext(payload))
    fields = [reader.read_unsigned_int(w) for w in (8, 16, 16, 16, 16, 18, 10, 20, 7, 1)]
    if st_.soc_pct10 < 0:
        assert fields[6] == 0x3FF              # the NA code (victron-ble shows it as 102.3 %)
        assert d.get_consumed_ah() is None
    else:
        assert d.get_soc() == min(st_.soc_pct10, 1000) / 10.0
        used_mah = max(0, -st_.consumed_mah)
        raw = round(d.get_consumed_ah() * 10)
        if used_mah < 104857450:
            assert abs(raw * 100 - used_mah) <= 50
        else:
            assert raw == 0xFFFFE
    assert fields[9] == 1                      # the unused trailing bit is 1
    # temperature (hottest battery sensor)
    if bank is None:
        assert d.get_battery_temperature() is None
    else:
        check_temp(d.get_battery_temperature(), bank.temp_max_dc)
    assert d.get_io_status() == expected_io(st_)
    alarm = d.get_alarm_flags()
    assert alarm == expected_alarm(st_.active)
    assert alarm in ALARM_VALUES
    AlarmReason(alarm)                          # a decoder reading it as the enum does not raise
    assert d.get_error_flags() == expected_error(st_.active)
    if ha:
        v = ha_values(payload)
        assert v["voltage"] == d.get_voltage()
        assert v["current"] == d.get_current()
        assert v["remaining_minutes"] == d.get_remaining_mins()
        assert v["consumed_ampere_hours"] == d.get_consumed_ah()
        assert v["battery_temperature"] == d.get_battery_temperature()
        if st_.soc_pct10 >= 0:
            assert v["state_of_charge"] == min(st_.soc_pct10, 1000) / 10.0
    return d


@hsettings(**HYP)
@given(status_strategy())
def test_record_0a_decodes_to_the_status_values_with_both_decoders(s):
    ro, payload = bms_frame(s)
    assert detect_device_type(payload) is LynxSmartBMS
    check_bms_record(s, payload)


@hsettings(**HYP)
@given(ma=current_ma, known=st.booleans())
def test_current_both_signs_extremes_and_unknown(ma, known):
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 0, 1, 0)]), current_ma=ma, current_known=known)
    d = check_bms_record(s, bms_frame(s)[1])
    if known and abs(ma) >= 50:
        assert (d.get_current() > 0) == (ma > 0)     # + = charging, kept through the sign bit


@pytest.mark.parametrize("soc_pct10,consumed_mah,soc_pct,ah", [
    (0, -100000, 0.0, 100.0), (1000, 0, 100.0, 0.0), (555, -12345, 55.5, 12.3), (999, 2000, 99.9, 0.0),
    (1000, -104857400, 100.0, 104857.4), (1000, -999999999, 100.0, 104857.4)])
def test_soc_and_consumed_fixed_values(soc_pct10, consumed_mah, soc_pct, ah):
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 0, 1, 0)]), soc_pct10=soc_pct10,
                    consumed_mah=consumed_mah)
    d = check_bms_record(s, bms_frame(s)[1])
    assert d.get_soc() == soc_pct
    assert d.get_consumed_ah() == ah


def test_soc_unknown_sends_the_na_codes():
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 0, 1, 0)]), soc_pct10=-1, consumed_mah=-5000)
    payload = bms_frame(s)[1]
    r = BitReader(plaintext(payload))
    f = [r.read_unsigned_int(w) for w in (8, 16, 16, 16, 16, 18, 10, 20, 7)]
    assert f[6] == 0x3FF and f[7] == 0xFFFFF
    assert decode(payload).get_consumed_ah() is None


@pytest.mark.parametrize("ttg,want", [(-1, None), (0, 0), (90, 90), (0xFFFD, 0xFFFD), (0xFFFE, 0xFFFE),
                                      (0xFFFF, 0xFFFE), (10 ** 6, 0xFFFE)])
def test_time_to_go_none_and_large(ttg, want):
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 0, 1, 0)]), ttg_min=ttg)
    payload = bms_frame(s)[1]
    assert decode(payload).get_remaining_mins() == want
    assert ha_values(payload)["remaining_minutes"] == want


@pytest.mark.parametrize("dc,want", [(-400, -40), (-395, -40), (-5, -1), (0, 0), (4, 0), (5, 1), (254, 25),
                                     (855, 86), (864, 86), (1000, 86)])
def test_temperature_range(dc, want):
    s = make_status(bank=make_bank([((3300,) * 4, (dc,), 0, 1, 0)]))
    assert s.bank.temp_max_dc == dc
    payload = bms_frame(s)[1]
    assert decode(payload).get_battery_temperature() == want
    assert ha_values(payload)["battery_temperature"] == want


def test_the_hottest_sensor_of_the_bank_is_sent():
    s = make_status(bank=make_bank([((3300,) * 4, (200, 315), 0, 1, 0), ((3300,) * 4, (-50, 277, 100), 0, 1, 0)]))
    assert decode(bms_frame(s)[1]).get_battery_temperature() == 32


def test_empty_bank_sends_voltage_and_temperature_na():
    s = make_status(bank=None, soc_pct10=500, current_ma=-12300)
    payload = bms_frame(s)[1]
    d = check_bms_record(s, payload)
    assert d.get_voltage() is None and d.get_battery_temperature() is None
    assert d.get_current() == -12.3 and d.get_soc() == 50.0
    v = ha_values(payload)
    assert v["voltage"] is None and v["battery_temperature"] is None and v["current"] == -12.3


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_bank_voltage_of_1_to_5_batteries_in_series(n):
    cells = (3312, 3298, 3305, 3321)
    s = make_status(bank=make_bank([(cells, (200,), 0, i + 1, 0) for i in range(n)]))
    assert s.bank.bank_mv == n * sum(cells)
    payload = bms_frame(s)[1]
    assert decode(payload).get_voltage() == round(n * sum(cells) / 10) / 100
    assert ha_values(payload)["voltage"] == round(n * sum(cells) / 10) / 100


# ---------------------------------------------------------------- codes
@pytest.mark.parametrize("cid", range(C.N_CODES), ids=[C.text(c) for c in range(C.N_CODES)])
def test_every_code_alone(cid):
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 0, 1, 0)]), active=[cid])
    d = check_bms_record(s, bms_frame(s)[1])
    sev = C.severity(cid)
    if sev == C.SEVERITY_ERROR:
        assert d.get_alarm_flags() == 0
        assert d.get_error_flags() == C.error_number(cid) == int(C.text(cid)[3:])
        assert d.get_error_flags() > 0
    else:
        assert d.get_alarm_flags() == C.readout_reason(cid)
        assert d.get_error_flags() == 0
    assert d.get_alarm_flags() in ALARM_VALUES


def test_every_documented_readout_reason_is_an_alarm_reason_enum_member():
    for cid in range(C.N_CODES):
        r = C.readout_reason(cid)
        assert r in ALARM_VALUES
        assert r == 0 or (r & (r - 1)) == 0          # one bit: never a combination


@hsettings(**HYP)
@given(st.lists(st.integers(0, C.N_CODES - 1), min_size=2, max_size=C.N_CODES, unique=True))
def test_many_codes_at_once_still_one_enum_alarm_and_the_first_error(active):
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 0, 1, 0)]), active=active)
    d = decode(bms_frame(s)[1])
    alarm = d.get_alarm_flags()
    assert alarm in ALARM_VALUES
    assert alarm == expected_alarm(s.active)
    if any(C.severity(c) == C.SEVERITY_ALARM and C.readout_reason(c) for c in active):
        first_alarm = min(c for c in active if C.severity(c) == C.SEVERITY_ALARM and C.readout_reason(c))
        assert alarm == C.readout_reason(first_alarm)
    assert d.get_error_flags() == expected_error(s.active)


def test_all_codes_at_once():
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 0, 1, 0)]), active=range(C.N_CODES))
    d = decode(bms_frame(s)[1])
    assert d.get_alarm_flags() == C.readout_reason(C.A_B01) == C.R_LOW_VOLTAGE
    assert d.get_error_flags() == 1                  # E-B01 first in table order


@pytest.mark.parametrize("bit", range(8))
def test_io_status_bits_one_at_a_time(bit):
    fields = dict(allowed=(0, 0, 0, 0, 0), pre_alarm_out=False, remote_on=False, alternator_on=False,
                  system_charge=False, system_discharge=False, soft_on=False)
    if bit == 0:
        fields["allowed"] = (1, 0, 0, 0, 0)
    elif bit == 1:
        fields["allowed"] = (0, 1, 0, 0, 0)
    else:
        fields[["pre_alarm_out", "remote_on", "alternator_on", "system_charge", "system_discharge",
                "soft_on"][bit - 2]] = True
    s = make_status(bank=None, **fields)
    want = [R.IO_ATC, R.IO_ATD, R.IO_PRE_ALARM, R.IO_REMOTE_ON, R.IO_ALTERNATOR, R.IO_SYSTEM_CHARGE,
            R.IO_SYSTEM_DISCHARGE, R.IO_SOFT_ON][bit]
    assert want == 1 << bit
    assert decode(bms_frame(s)[1]).get_io_status() == want


# ---------------------------------------------------------------- record 0x05
def check_battery_record(s, i, payload):
    assert detect_device_type(payload) is SmartLithium
    bank = s.bank
    d = decode(payload)
    n = bank.n_cells[i]
    cells = d.get_cell_voltages()
    assert len(cells) == 8
    for k in range(8):
        got = cells[k]
        if k >= n:
            assert got is None, (k, n)
            continue
        mv = bank.cell_mv[i * B.MAX_CELLS + k]
        if mv < 2605:
            assert got == float("-inf"), (k, mv, got)
        elif mv >= 3855:
            assert got == float("inf"), (k, mv, got)
        else:
            assert abs(got - mv / 1000.0) <= 0.005 + 1e-9, (k, mv, got)
    v = bank.voltage_mv[i]
    if v >= 40945:
        assert d.get_battery_voltage() is None      # 12 bits end at 40.94 V
    else:
        assert abs(round(d.get_battery_voltage() * 100) * 10 - v) <= 5
    nt = bank.n_temps[i]
    if nt:
        check_temp(d.get_battery_temperature(), max(bank.temp_dc[i * B.MAX_TEMPS + k] for k in range(nt)))
    else:
        assert d.get_battery_temperature() is None
    assert d.get_balancer_status() == BALANCER_TO_DECODED[s.balancer]
    want_flags = (s.allowed[C.PORT_ATC] << 25) | (s.allowed[C.PORT_ATD] << 26)
    assert d.get_bms_flags() == want_flags
    assert d.get_error_flags() == bank.flags[i]
    ha = ha_values(payload)
    assert ha["battery_voltage"] == d.get_battery_voltage()
    assert ha["battery_temperature"] == d.get_battery_temperature()
    assert ha["balancer_status"] == d.get_balancer_status().name.lower()
    for k in range(8):
        assert ha["cell_%d_voltage" % (k + 1)] == cells[k]
    return d


@hsettings(**HYP)
@given(status_strategy(with_bank=True))
def test_record_05_of_every_battery_decodes_with_both_decoders(s):
    ro = R.Readout(KEY, 0xA3E8, 7)
    seen = []
    for _ in range(2 * s.bank.count):
        ro.next(s, cells=True)
        payload = payload_of(ro)
        if ro.record == R.RECORD_BATTERY:
            i = len(seen)
            seen.append(i)
            check_battery_record(s, i, payload)
        else:
            check_bms_record(s, payload)
    assert seen == list(range(s.bank.count))


@pytest.mark.parametrize("n_cells", [4, 8, 16])
def test_cells_of_4_8_16_cell_batteries(n_cells):
    cells = tuple(3000 + 37 * k for k in range(n_cells))
    s = make_status(bank=make_bank([(cells, (250,), 0, 1, 0)]))
    ro = R.Readout(KEY)
    ro.next(s)
    assert ro.record == R.RECORD_BATTERY
    d = check_battery_record(s, 0, payload_of(ro))
    want = [(c / 1000.0) for c in cells[:8]] + [None] * (8 - min(n_cells, 8))
    got = d.get_cell_voltages()
    for k in range(8):
        if want[k] is None:
            assert got[k] is None
        else:
            assert got[k] == pytest.approx(want[k], abs=0.005)
    if n_cells == 16:
        assert sum(cells) > 40940 and d.get_battery_voltage() is None
    else:
        assert d.get_battery_voltage() == pytest.approx(sum(cells) / 1000.0, abs=0.005)


@pytest.mark.parametrize("mv,want", [(0, float("-inf")), (2600, float("-inf")), (2604, float("-inf")),
                                     (2605, 2.61), (2610, 2.61), (3300, 3.30), (3850, 3.85), (3854, 3.85),
                                     (3855, float("inf")), (3860, float("inf")), (5000, float("inf"))])
def test_cell_limits(mv, want):
    s = make_status(bank=make_bank([((mv, 3300, 3300, 3300), (200,), 0, 1, 0)]))
    ro = R.Readout(KEY)
    ro.next(s)
    assert decode(payload_of(ro)).get_cell_voltages()[0] == want


@pytest.mark.parametrize("mv,want", [(40930, 40.93), (40940, 40.94), (40944, 40.94), (40945, None),
                                     (40950, None), (52000, None)])
def test_16_cell_battery_voltage_limit(mv, want):
    cells = [mv // 16] * 16
    cells[0] += mv - sum(cells)
    s = make_status(bank=make_bank([(tuple(cells), (200,), 0, 1, 0)]))
    assert s.bank.voltage_mv[0] == mv
    ro = R.Readout(KEY)
    ro.next(s)
    assert decode(payload_of(ro)).get_battery_voltage() == want


def test_battery_without_temperature_sends_na():
    bank = make_bank([((3300,) * 4, (200,), 0, 1, 0)])
    bank.n_temps[0] = 0
    s = make_status(bank=bank)
    ro = R.Readout(KEY)
    ro.next(s)
    assert ro.record == R.RECORD_BATTERY
    assert decode(payload_of(ro)).get_battery_temperature() is None


@pytest.mark.parametrize("bal", [BAL.UNKNOWN, BAL.BALANCED, BAL.IMBALANCED, BAL.BALANCING])
def test_balancer_status(bal):
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 1, 1, 0)]), balancer=bal)
    ro = R.Readout(KEY)
    ro.next(s)
    payload = payload_of(ro)
    assert decode(payload).get_balancer_status() == BALANCER_TO_DECODED[bal]
    assert ha_values(payload)["balancer_status"] == BALANCER_TO_DECODED[bal].name.lower()


# ---------------------------------------------------------------- keys
def test_a_wrong_key_is_refused_by_both_decoders():
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 0, 1, 0)]), soc_pct10=800)
    ro = R.Readout(KEY)
    for _ in range(2):
        ro.next(s)
        payload = payload_of(ro)
        with pytest.raises(AdvertisementKeyMismatchError):
            detect_device_type(payload)(OTHER_KEY_HEX).parse(payload)
        wrong = ha_values(payload, OTHER_KEY_HEX)
        assert set(wrong) <= {"signal_strength"}
        right = ha_values(payload)
        assert len(set(right) - {"signal_strength"}) >= 6


def test_set_key_reseals_with_the_new_key():
    s = make_status(bank=None, soc_pct10=420)
    ro = R.Readout(KEY, 0, 100)
    ro.next(s, cells=False)
    assert ro.nonce == 101
    new = bytes(range(0x20, 0x30))
    ro.set_key(new)
    assert ro.next(s, cells=False) is True
    assert ro.nonce == 102
    payload = payload_of(ro)
    assert payload[7] == new[0]
    assert decode(payload, new.hex()).get_soc() == 42.0
    with pytest.raises(AdvertisementKeyMismatchError):
        decode(payload)
    with pytest.raises(ValueError):
        ro.set_key(bytes(15))


# ---------------------------------------------------------------- nonce
def test_same_status_twice_same_bytes_and_nonce_then_a_change_advances_it():
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 0, 1, 0)]), soc_pct10=800, current_ma=-5000)
    ro = R.Readout(KEY, 0, 500)
    assert ro.next(s, cells=False) is True
    first = bytes(ro.adv)
    assert ro.nonce == 501
    for _ in range(5):
        assert ro.next(s, cells=False) is False
        assert bytes(ro.adv) == first and ro.nonce == 501
    s.current_ma = -5100
    assert ro.next(s, cells=False) is True
    assert ro.nonce == 502 and bytes(ro.adv) != first
    payload = payload_of(ro)
    assert payload[5] | (payload[6] << 8) == 502
    assert decode(payload).get_current() == -5.1


def test_a_change_below_the_resolution_keeps_the_nonce():
    s = make_status(bank=None, current_ma=-5000)
    ro = R.Readout(KEY)
    ro.next(s, cells=False)
    n = ro.nonce
    s.current_ma = -5020                           # still -5.0 A on the air
    assert ro.next(s, cells=False) is False and ro.nonce == n


def test_nonce_wraps_at_16_bits():
    s = make_status(bank=None, soc_pct10=100)
    ro = R.Readout(KEY, 0, 0xFFFF)
    ro.next(s, cells=False)
    assert ro.nonce == 0
    payload = payload_of(ro)
    assert payload[5:7] == b"\x00\x00"
    assert decode(payload).get_soc() == 10.0
    s.soc_pct10 = 110
    ro.next(s, cells=False)
    assert ro.nonce == 1 and decode(payload_of(ro)).get_soc() == 11.0


@hsettings(**HYP)
@given(st.lists(status_strategy(), min_size=2, max_size=6), st.lists(st.booleans(), min_size=6, max_size=6))
def test_nonce_changes_exactly_when_the_payload_changes(states, cells_flags):
    ro = R.Readout(KEY, 0, 0xFFF0)
    prev = None
    for k, s in enumerate(states):
        for rep in range(2):                    # each state twice: the repeat may still rotate
            before = (bytes(ro.adv), ro.nonce)
            changed = ro.next(s, cells_flags[k])
            payload = payload_of(ro)
            now = (ro.record, plaintext(payload))
            if prev is not None:
                assert changed == (now != prev)
            if changed:
                assert ro.nonce == (before[1] + 1) & 0xFFFF
                assert bytes(ro.adv) != before[0]
            else:
                assert (bytes(ro.adv), ro.nonce) == before
            assert payload[5] | (payload[6] << 8) == ro.nonce
            prev = now


# ---------------------------------------------------------------- the frame
@pytest.mark.parametrize("model", [0, 0xA3E8, 0x1234])
def test_frame_layout(model):
    s = make_status(bank=make_bank([((3300,) * 4, (200,), 0, 1, 0)]), soc_pct10=734)
    ro = R.Readout(KEY, model, 0x1233)
    ro.next(s, cells=False)
    adv = bytes(ro.adv)
    assert len(adv) == 31 == R.ADV_LEN
    assert adv[0:3] == b"\x02\x01\x06"                 # flags AD: LE general discoverable, no BR/EDR
    assert adv[3] == 27 and adv[3] + 4 == 31           # one AD fills the rest
    assert adv[4] == 0xFF and adv[5:7] == b"\xe1\x02"  # manufacturer data, company 0x02E1 LE
    p = adv[7:]
    assert len(p) == 24
    assert p[0] == 0x10
    assert p[2] | (p[3] << 8) == model
    assert p[4] == 0x0A
    assert p[5] | (p[6] << 8) == 0x1234
    assert p[7] == KEY[0]
    # An independent AD parser sees the same manufacturer data.
    parsed = parse_advertisement_data_bytes(adv)
    assert parsed[3] == {0x02E1: p}
    # The ciphertext is AES-128-CTR with counter block nonce LE + 14 zero bytes.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    ctr = bytes([0x34, 0x12]) + bytes(14)
    plain = Cipher(algorithms.AES(KEY), modes.CTR(ctr)).decryptor().update(p[8:])
    assert plain == plaintext(p)
    assert decode(p).get_soc() == 73.4
    ro.set_model(0xBEEF)
    assert ro.adv[9:11] == b"\xef\xbe"


def test_record_05_frame_is_also_31_bytes_with_16_bytes_of_ciphertext():
    s = make_status(bank=make_bank([((3300,) * 8, (200,), 0, 1, 0)]))
    ro = R.Readout(KEY)
    ro.next(s)
    assert ro.record == R.RECORD_BATTERY
    adv = bytes(ro.adv)
    assert len(adv) == 31 and adv[11] == 0x05 and len(adv[15:]) == 16


# ---------------------------------------------------------------- rotation
def battery_index(payload):
    """Which battery a 0x05 frame is (batteries built with cell 1 at 3000 + 10 * i mV)."""
    return round((decode(payload).get_cell_voltages()[0] - 3.0) * 100)


def rotation(s, slots, cells=True, ro=None):
    ro = ro or R.Readout(KEY)
    out = []
    for _ in range(slots):
        ro.next(s, cells)
        p = payload_of(ro)
        out.append("A" if ro.record == R.RECORD_BMS else battery_index(p))
        assert p[4] == ro.record
    return out


def three_batteries():
    return make_bank([((3000 + 10 * i, 3300, 3300, 3300), (200,), 0, 1, 0) for i in range(3)])


def test_rotation_alternates_0a_with_each_battery_in_turn():
    s = make_status(bank=three_batteries())
    seq = rotation(s, 12)
    assert seq[0::2] == [0, 1, 2, 0, 1, 2] or seq[1::2] == [0, 1, 2, 0, 1, 2]
    main = seq[1::2] if seq[1::2] != [0, 1, 2, 0, 1, 2] else seq[0::2]
    assert main == ["A"] * 6
    batteries = [x for x in seq if x != "A"]
    assert batteries == [0, 1, 2, 0, 1, 2]


def test_rotation_without_cells_or_without_a_bank_is_only_0a():
    assert rotation(make_status(bank=three_batteries()), 8, cells=False) == ["A"] * 8
    assert rotation(make_status(bank=None), 8, cells=True) == ["A"] * 8


def test_rotation_follows_a_bank_that_shrinks():
    s = make_status(bank=three_batteries())
    ro = R.Readout(KEY)
    first = rotation(s, 4, ro=ro)                      # batteries 0 and 1 sent
    assert [x for x in first if x != "A"] == [0, 1]
    s.bank = make_bank([((3000 + 10 * i, 3300, 3300, 3300), (200,), 0, 1, 0) for i in range(2)])
    after = rotation(s, 6, ro=ro)
    assert [x for x in after if x != "A"] == [0, 1, 0]
    assert after.count("A") == 3
