"""Board definitions: which pin does what, as data (``boards/*.json``).

A board file names the chip, the link UART, every logical output with its pin and
polarity, and the remote L/H sense inputs with their divider; optionally the
model profile it is built as (``"model"``, docs/models.md). Which outputs it
must have is the profile's business (``models.check_board``). ``load(path)``
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
OUT_SYSTEM_PRECHARGE = 7
OUTPUT_NAMES = ("load_disconnect", "charge_disconnect", "pre_alarm", "status_led",
                "alternator_port", "system_charge", "system_discharge", "system_precharge",
                "led_alternator", "led_bms_temp", "led_bms_active", "led_bluetooth", "led_charge",
                "led_load", "led_system_charge", "contactor", "aux_output", "alternator_atc")
INPUT_NAMES = ("remote_l", "remote_h")
# Analog sensors of the power ports (all optional), by kind: a fuse-drop amplifier
# ("zero_uv" at 0 A, "gain"), a voltage divider ("divider_x1000"), an NTC to ground
# with a series resistor to the supply ("r25_ohm", "beta", "series_ohm", "supply_mv").
ANALOG = (("alternator_a", ("zero_uv", "gain")), ("alternator_v", ("divider_x1000",)),
          ("lithium_v", ("divider_x1000",)), ("system_v", ("divider_x1000",)),
          ("alternator_temp", ("r25_ohm", "beta", "series_ohm", "supply_mv")),
          ("bms_temp", ("r25_ohm", "beta", "series_ohm", "supply_mv")))
ANALOG_NAMES = tuple(a[0] for a in ANALOG)


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

    Power ports (optional, docs/alternator.md): ``analog`` maps sensor names
    (``ANALOG``) to ``{"adc_pin": N, ...}``; the ``alternator_port`` output takes
    ``"pwm_hz"`` (its gate is driven by PWM) and needs the ``alternator_a`` and
    ``alternator_v`` sensors; ``short_circuit`` is ``{"pin": N, "active_high":
    bool}``, the over-current comparator's output (a pin interrupt).
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
        if "pwm_hz" in o:
            hz = _int_field(o, "pwm_hz", "outputs." + name)
            if name != "alternator_port" or not o.get("active_high", True) or not 100 <= hz <= 40000:
                raise BoardError("outputs.%s: pwm_hz (100..40000, active high) is for the alternator_port only" % name)
    if "model" in b and not isinstance(b["model"], str):
        raise BoardError("'model' must be a model profile name (docs/models.md)")
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
    _validate_ports(b, used)
    for pin in (u["tx"], u["rx"]):
        if pin in used:
            raise BoardError("link UART pin %d is also %s" % (pin, used[pin]))
    return b


def _validate_ports(b, used):
    analog = b.get("analog", {})
    for name in analog:
        kinds = [a[1] for a in ANALOG if a[0] == name]
        if not kinds:
            raise BoardError("unknown analog sensor '%s' (known: %s)" % (name, ", ".join(ANALOG_NAMES)))
        a = analog[name]
        pin = _int_field(a, "adc_pin", "analog." + name)
        for key in kinds[0]:
            if _int_field(a, key, "analog." + name) <= 0 and key != "zero_uv":
                raise BoardError("analog.%s: '%s' must be > 0" % (name, key))
        if "divider_x1000" in a and a["divider_x1000"] < 1000:
            raise BoardError("analog.%s: divider_x1000 must be >= 1000" % name)
        if pin in used:
            raise BoardError("pin %d used by both %s and analog.%s" % (pin, used[pin], name))
        used[pin] = "analog." + name
    alt = b["outputs"].get("alternator_port")
    if alt is not None:
        for need in ("alternator_a", "alternator_v"):
            if need not in analog:
                raise BoardError("the alternator_port needs the analog sensor '%s'" % need)
        if "pwm_hz" not in alt:
            raise BoardError("the alternator_port needs pwm_hz: its current is regulated by the gate's PWM")
    sc = b.get("short_circuit")
    if sc is not None:
        pin = _int_field(sc, "pin", "short_circuit")
        if not isinstance(sc.get("active_high", True), bool):
            raise BoardError("short_circuit: 'active_high' must be true or false")
        if pin in used:
            raise BoardError("pin %d used by both %s and short_circuit" % (pin, used[pin]))
        used[pin] = "short_circuit"


def load(path):
    """Read and validate the board file at ``path``; raise ``BoardError`` or ``OSError``."""
    with open(path) as f:
        return validate(json.load(f))
