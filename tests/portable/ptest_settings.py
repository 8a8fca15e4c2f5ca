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
