"""Board definitions: which pin does what, as data (``boards/*.json``).

A board file names the chip, the link UART, every logical output with its pin and
polarity, and the remote L/H sense inputs with their divider. ``load(path)``
reads and checks one; the hardware layer is the only user. On the board the file
is deployed as ``/board.json``.
"""
import json

# Logical outputs in a fixed order: the controller indexes them, no dict per tick.
OUT_LOAD_DISCONNECT = 0
OUT_CHARGE_DISCONNECT = 1
OUT_PRE_ALARM = 2
OUT_STATUS_LED = 3
OUT_ALTERNATOR_PORT = 4
OUT_SYSTEM_CHARGE = 5
OUT_SYSTEM_DISCHARGE = 6
OUTPUT_NAMES = ("load_disconnect", "charge_disconnect", "pre_alarm", "status_led",
                "alternator_port", "system_charge", "system_discharge")
REQUIRED_OUTPUTS = ("load_disconnect", "charge_disconnect", "pre_alarm", "status_led")
INPUT_NAMES = ("remote_l", "remote_h")


class BoardError(ValueError):
    """The board file is missing something or contradicts itself."""


def _int_field(d, key, where):
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise BoardError("%s: '%s' must be an integer, got %r" % (where, key, v))
    return v


def validate(b):
    """Check a board dict; return it, or raise ``BoardError`` naming the problem.

    ``current`` (optional): ``{"source": "records"}`` (default: the batteries'
    own currents from the ring) or ``{"source": "shunt", "adc_pin": N,
    "zero_uv": µV at 0 A, "uv_per_a": µV per A}`` for a shunt amplifier on an ADC.
    """
    for key in ("name", "chip", "link_uart", "outputs", "inputs"):
        if key not in b:
            raise BoardError("board file lacks '%s'" % key)
    u = b["link_uart"]
    for key in ("id", "tx", "rx", "baudrate"):
        _int_field(u, key, "link_uart")
    used = {}
    for name in b["outputs"]:
        if name not in OUTPUT_NAMES:
            raise BoardError("unknown output '%s' (known: %s)" % (name, ", ".join(OUTPUT_NAMES)))
        o = b["outputs"][name]
        pin = _int_field(o, "pin", "outputs." + name)
        if not isinstance(o.get("active_high", True), bool):
            raise BoardError("outputs.%s: 'active_high' must be true or false" % name)
        if pin in used:
            raise BoardError("pin %d used by both %s and %s" % (pin, used[pin], name))
        used[pin] = name
    for name in REQUIRED_OUTPUTS:
        if name not in b["outputs"]:
            raise BoardError("board file lacks output '%s'" % name)
    for name in INPUT_NAMES:
        if name not in b["inputs"]:
            raise BoardError("board file lacks input '%s'" % name)
        i = b["inputs"][name]
        pin = _int_field(i, "adc_pin", "inputs." + name)
        if _int_field(i, "divider_x1000", "inputs." + name) < 1000:
            raise BoardError("inputs.%s: divider_x1000 must be >= 1000" % name)
        if pin in used:
            raise BoardError("pin %d used by both %s and %s" % (pin, used[pin], name))
        used[pin] = name
    cur = b.get("current", {"source": "records"})
    if cur.get("source") not in ("records", "shunt"):
        raise BoardError("current.source must be 'records' or 'shunt'")
    if cur["source"] == "shunt":
        pin = _int_field(cur, "adc_pin", "current")
        _int_field(cur, "zero_uv", "current")
        if _int_field(cur, "uv_per_a", "current") < 10:
            raise BoardError("current.uv_per_a must be >= 10")
        if pin in used:
            raise BoardError("pin %d used by both %s and the shunt" % (pin, used[pin]))
        used[pin] = "current shunt"
    for pin in (u["tx"], u["rx"]):
        if pin in used:
            raise BoardError("link UART pin %d is also %s" % (pin, used[pin]))
    return b


def load(path):
    """Read and validate the board file at ``path``; raise ``BoardError`` or ``OSError``."""
    with open(path) as f:
        return validate(json.load(f))
