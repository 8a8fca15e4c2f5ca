"""The power ports' sensors seen from outside: physical values to ADC pin levels.

For the pin mock (tests, the simulator, the benchmark): ``levels(board, fuse_uohm,
**values)`` returns ``{adc pin: mV}`` for the board file's ``analog`` sensors
(board.py ``ANALOG``): ``alternator_a`` in A through the fuse's resistance
(``fuse_uohm``) and the amplifier, voltages in V through the dividers, temperatures
in °C through the NTC divider (beta equation). Written independently of the
firmware's conversions, so a test that goes through both checks them.
"""
import math

ROOM = {"alternator_a": 0.0, "alternator_v": 0.0, "lithium_v": 13.2, "system_v": 0.0,
        "alternator_temp": 25.0, "bms_temp": 25.0}
ADC_FULL_MV = 3100          # the pin mock clips here (ESP32, 11 dB)


def pin_mv(board, name, value, fuse_uohm=450):
    """The ADC pin voltage (mV, an int clipped to 0..3100) for ``value`` of sensor ``name``."""
    a = board["analog"][name]
    if name == "alternator_a":
        drop_uv = value * fuse_uohm                    # A x µΩ = µV
        mv = (a["zero_uv"] + drop_uv * a["gain"]) / 1000.0
    elif name in ("alternator_temp", "bms_temp"):
        r = a["r25_ohm"] * math.exp(a["beta"] * (1.0 / (value + 273.15) - 1.0 / 298.15))
        mv = a["supply_mv"] * r / (r + a["series_ohm"])
    else:
        mv = value * 1000.0 * 1000.0 / a["divider_x1000"]
    return int(round(min(ADC_FULL_MV, max(0.0, mv))))


def levels(board, fuse_uohm=450, **values):
    """``{adc pin: mV}`` for every analog sensor of ``board``: ``values`` where
    given, else ``ROOM`` (engine off, a resting 12.8 V bank, 25 °C)."""
    out = {}
    for name, a in board.get("analog", {}).items():
        v = values.get(name, ROOM[name])
        out[a["adc_pin"]] = pin_mv(board, name, v, fuse_uohm)
    return out
