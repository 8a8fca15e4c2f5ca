"""Portable: settings on both interpreters, including 32-bit-float inputs."""
import struct

import settings as S


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def test_conversions_survive_32_bit_floats():
    s = S.Settings()
    for row in S.SCHEMA:
        name, unit, default = row[0], row[1], row[2]
        if unit == "V":
            s._values[name] = f32(default)
            assert s.mv(name) == int(default * 1000 + 0.5), name
        elif unit == "degC":
            s._values[name] = f32(default)
            assert s.deci_c(name) == int(default * 10 + 0.5), name


def test_bad_set_keeps_the_old_value():
    s = S.Settings()
    try:
        s.set("cell_uv_trip_v", 3.5)
        assert False, "accepted"
    except S.SettingsError:
        pass
    assert s.get("cell_uv_trip_v") == 2.8
    try:
        s.update({"cell_ov_trip_v": 3.6, "cell_ov_reset_v": 3.65})
        assert False, "accepted"
    except S.SettingsError:
        pass
    assert s.get("cell_ov_trip_v") == 3.75


def test_currents_and_times_survive_32_bit_floats():
    s = S.Settings()
    for row in S.SCHEMA:
        name, unit, default = row[0], row[1], row[2]
        if unit == "A":
            s._values[name] = f32(default)
            want = int(default * 1000 + 0.5) if default >= 0 else -int(-default * 1000 + 0.5)
            assert s.milli(name) == want, name
        elif unit == "s":
            s._values[name] = f32(default)
            assert s.ms(name) == int(default) * 1000, name
    s._values["current_zero_offset_a"] = f32(0.1)
    assert s.milli("current_zero_offset_a") == 100


def test_hard_limits_are_ordered_against_their_trips():
    s = S.Settings()
    for change in ({"cell_uv_hard_v": 2.7, "cell_uv_trip_v": 2.65}, {"cell_ov_hard_v": 3.7},
                   {"charge_ot_hard_c": 48}, {"charge_ut_hard_c": 5}, {"link_warn_answered_pct": 90}):
        try:
            s.update(change)
            assert False, "accepted %r" % (change,)
        except S.SettingsError as e:
            assert "rejected" in str(e), str(e)
    assert s.get("cell_uv_trip_v") == 2.8 and s.get("link_warn_answered_pct") == 40
