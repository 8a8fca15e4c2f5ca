"""A stand-in for MicroPython's ``machine`` module on ESP32 chips.

Same API as the board's (``Pin``, ``PWM``, ``ADC``, ``UART``, ``Timer``, ``WDT``),
refusing what the chip refuses: pins that do not exist, the SPI-flash pins, output
on input-only pins, ADC on a pin without one, PWM duty outside 0..65535. Every pin
level change is recorded with the clock's time in ``transitions`` so tests assert
on timing. ``install(chip, clock)`` registers it as ``machine`` in ``sys.modules``.

Kept to the MicroPython subset (no dataclasses, no typing) so the same file can be
loaded by the MicroPython interpreter in the tests.
"""
import sys

# Per chip: GPIO numbers that exist, input-only, reserved for SPI flash/PSRAM,
# ADC-capable, UART ids. Sources: Espressif datasheets (ESP32 §2.2, ESP32-S3 §2.3,
# ESP32-C3 §2.2) and MicroPython's port docs.
CHIPS = {
    "esp32": {
        "gpio": tuple(range(0, 20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40)),
        "input_only": (34, 35, 36, 37, 38, 39),
        "flash": (6, 7, 8, 9, 10, 11),
        "adc": (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39),
        "uarts": (0, 1, 2),
    },
    "esp32s3": {
        "gpio": tuple(range(0, 22)) + tuple(range(26, 49)),
        "input_only": (),
        "flash": (26, 27, 28, 29, 30, 31, 32),
        "adc": tuple(range(1, 21)),
        "uarts": (0, 1, 2),
    },
    "esp32c3": {
        "gpio": tuple(range(0, 22)),
        "input_only": (),
        "flash": (12, 13, 14, 15, 16, 17),
        "adc": (0, 1, 2, 3, 4),
        "uarts": (0, 1),
    },
}


class _ZeroClock:
    def ticks_ms(self):
        return 0


_state = {"chip": "esp32", "clock": _ZeroClock()}
transitions = []        # (t_ms, pin id, level) for every level change of an output
_levels = {}            # pin id -> level, outputs and driven inputs
_adc_mv = {}            # pin id -> mV at the pin
_uart_backends = {}     # uart id -> backend
_irqs = {}              # pin id -> (handler, trigger, Pin)
_pwm_duty = {}          # pin id -> duty_u16 of a PWM on it
wdt_feeds = []          # t_ms of every WDT feed
_held = {}              # pin id -> the value written while its level is held (Pin(..., hold=True))


def install(chip="esp32", clock=None):
    """Reset the mock for ``chip`` and register it as the ``machine`` module."""
    if chip not in CHIPS:
        raise ValueError("unknown chip %r (known: %s)" % (chip, ", ".join(sorted(CHIPS))))
    _reset_state()
    _state["chip"] = chip
    _state["clock"] = clock or _ZeroClock()
    sys.modules["machine"] = sys.modules[__name__]
    return sys.modules[__name__]


def reset():
    """``machine.reset()``'s stand-in: forget every pin and level but the held
    ones (a software reset keeps the ESP32's GPIO hold; the virtual board
    replaces it with a hard reset that restarts the BMS)."""
    _reset_state(keep_held=True)


def held_pins():
    """{pin id: level} of the pins whose level is held (the ESP32's GPIO hold)."""
    return dict((p, _levels.get(p, 0)) for p in _held)


def _reset_state(keep_held=False):
    """Forget every pin, transition, ADC level, UART backend and WDT feed. With
    ``keep_held`` (a reset that is not a power-on: the ESP32's GPIO hold keeps
    a held pin's level through it) the held pins keep their level and hold."""
    held = held_pins() if keep_held else {}
    del transitions[:]
    del wdt_feeds[:]
    _levels.clear()
    _held.clear()
    for p in held:
        _levels[p] = held[p]
        _held[p] = held[p]
    _adc_mv.clear()
    _uart_backends.clear()
    _irqs.clear()
    _pwm_duty.clear()


def set_clock(clock):
    _state["clock"] = clock


def _now():
    return _state["clock"].ticks_ms()


def _chip():
    return CHIPS[_state["chip"]]


def _check_pin(pin_id):
    c = _chip()
    if pin_id in c["flash"]:
        raise ValueError("pin %d is wired to the SPI flash on %s" % (pin_id, _state["chip"]))
    if pin_id not in c["gpio"]:
        raise ValueError("invalid pin %d on %s" % (pin_id, _state["chip"]))


def level(pin_id):
    """The present level (0/1) of a pin, or None if never set or driven."""
    return _levels.get(pin_id)


def drive(pin_id, value):
    """Drive an input pin from outside (a test or the simulator); an edge that
    matches the pin's ``irq`` trigger calls its handler at once, as a hard
    interrupt would."""
    _check_pin(pin_id)
    v = 1 if value else 0
    old = _levels.get(pin_id, 0)
    _levels[pin_id] = v
    irq = _irqs.get(pin_id)
    if irq is not None and v != old:
        if (v and irq[1] & Pin.IRQ_RISING) or (not v and irq[1] & Pin.IRQ_FALLING):
            irq[0](irq[2])


def pwm_duty(pin_id):
    """The duty_u16 of the PWM on ``pin_id`` (0 when none)."""
    return _pwm_duty.get(pin_id, 0)


def set_adc_mv(pin_id, mv):
    """Set the voltage in mV the ADC on ``pin_id`` sees."""
    _adc_mv[pin_id] = mv


def attach_uart(uart_id, backend):
    """Back UART ``uart_id`` with ``backend`` (``MemoryBackend`` or ``SerialBackend``)."""
    _uart_backends[uart_id] = backend


def pin_transitions(pin_id):
    """[(t_ms, level)] for one pin, in order."""
    return [(t, v) for (t, p, v) in transitions if p == pin_id]


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, pin_id, mode=-1, pull=-1, value=None, hold=None):
        _check_pin(pin_id)
        self.id = pin_id
        self.mode = None
        self.init(mode, pull, value, hold)

    def init(self, mode=-1, pull=-1, value=None, hold=None):
        if mode in (Pin.OUT, Pin.OPEN_DRAIN) and self.id in _chip()["input_only"]:
            raise ValueError("pin %d is input-only on %s" % (self.id, _state["chip"]))
        if mode != -1:
            self.mode = mode
        if hold is False and self.id in _held:
            # Released: the pin takes the value written while it was held.
            pending = _held.pop(self.id)
            self.value(pending if value is None else value)
            return
        if value is not None:
            self.value(value)
        if hold:
            _held[self.id] = _levels.get(self.id, 0)

    def value(self, v=None):
        if v is None:
            return _levels.get(self.id, 0)
        if self.mode not in (Pin.OUT, Pin.OPEN_DRAIN):
            raise OSError("pin %d is not an output" % self.id)
        v = 1 if v else 0
        if self.id in _held:
            _held[self.id] = v       # the ESP32's GPIO hold: the level stays, the value waits
            return
        if _levels.get(self.id) != v:
            _levels[self.id] = v
            transitions.append((_now(), self.id, v))

    def __call__(self, v=None):
        return self.value(v)

    def irq(self, handler=None, trigger=3, hard=False):
        """Register ``handler(pin)`` for edges of ``trigger`` (``drive`` fires it)."""
        if self.mode == Pin.OUT:
            raise ValueError("pin %d is an output: no input interrupt" % self.id)
        if handler is None:
            _irqs.pop(self.id, None)
        else:
            _irqs[self.id] = (handler, trigger, self)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class PWM:
    def __init__(self, pin, freq=5000, duty_u16=0):
        if pin.id in _chip()["input_only"]:
            raise ValueError("pin %d is input-only on %s" % (pin.id, _state["chip"]))
        self.pin = pin
        self._freq = 0
        self._duty = 0
        self.freq(freq)
        self.duty_u16(duty_u16)

    def freq(self, f=None):
        if f is None:
            return self._freq
        if not 1 <= f <= 40000000:
            raise ValueError("frequency %r out of range" % f)
        self._freq = f

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        if not isinstance(d, int) or not 0 <= d <= 65535:
            raise ValueError("duty_u16 must be an int 0..65535, not %r" % (d,))
        self._duty = d
        _pwm_duty[self.pin.id] = d
        # The pin's level as "driven at all": its on/off edges land in transitions.
        v = 1 if d else 0
        if _levels.get(self.pin.id) != v:
            _levels[self.pin.id] = v
            transitions.append((_now(), self.pin.id, v))

    def deinit(self):
        self.duty_u16(0)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    _FULL_SCALE_MV = (950, 1250, 1750, 3100)

    def __init__(self, pin, atten=ATTN_0DB):
        pin_id = pin.id if isinstance(pin, Pin) else pin
        if pin_id not in _chip()["adc"]:
            raise ValueError("pin %d has no ADC on %s" % (pin_id, _state["chip"]))
        self.id = pin_id
        self.atten = atten

    def _mv(self):
        mv = _adc_mv.get(self.id, 0)
        full = self._FULL_SCALE_MV[self.atten]
        return 0 if mv < 0 else (full if mv > full else mv)

    def read_uv(self):
        return self._mv() * 1000

    def read_u16(self):
        return self._mv() * 65535 // self._FULL_SCALE_MV[self.atten]


class MemoryBackend:
    """UART bytes in memory: ``feed(data)`` is what the UART receives; ``sent``
    collects what it writes."""

    def __init__(self):
        self.rx = bytearray()
        self.sent = bytearray()
        self.tx_total = 0

    def take_sent(self):
        """Every byte written so far and not yet taken."""
        out = bytes(self.sent)
        self.sent = bytearray()
        return out

    def feed(self, data):
        self.rx.extend(data)

    def write(self, data):
        self.sent.extend(data)
        self.tx_total += len(data)
        return len(data)

    def in_waiting(self):
        return len(self.rx)

    def read(self, n):
        out = bytes(self.rx[:n])
        self.rx = self.rx[n:]      # MicroPython's bytearray has no slice deletion
        return out


class SerialBackend:
    """UART bytes through a real serial device (a pty on the host) via pyserial."""

    def __init__(self, port, baudrate=115200):
        import serial   # pyserial: only the host has it
        self.serial = serial.Serial(port, baudrate=baudrate, timeout=0)
        self.tx_total = 0

    def write(self, data):
        n = self.serial.write(bytes(data))
        self.serial.flush()
        self.tx_total += n
        return n

    def in_waiting(self):
        return self.serial.in_waiting

    def read(self, n):
        return self.serial.read(n)

    def close(self):
        self.serial.close()


class UART:
    def __init__(self, uart_id, baudrate=115200, tx=None, rx=None, rxbuf=256, **kw):
        if uart_id not in _chip()["uarts"]:
            raise ValueError("UART(%r) does not exist on %s" % (uart_id, _state["chip"]))
        for p in (tx, rx):
            if p is not None:
                _check_pin(p)
        if tx is not None and tx in _chip()["input_only"]:
            raise ValueError("UART tx pin %d is input-only on %s" % (tx, _state["chip"]))
        self.id = uart_id
        self.baudrate = baudrate
        self.rxbuf = rxbuf
        if uart_id not in _uart_backends:
            _uart_backends[uart_id] = MemoryBackend()
        self.backend = _uart_backends[uart_id]

    def write(self, buf):
        return self.backend.write(buf)

    def any(self):
        return self.backend.in_waiting()

    def read(self, n=None):
        if n is None:
            n = self.backend.in_waiting()
        data = self.backend.read(n)
        return data or None

    def readinto(self, buf, nbytes=None):
        n = len(buf) if nbytes is None else nbytes
        data = self.backend.read(n)
        if not data:
            return None
        buf[:len(data)] = data
        return len(data)


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, timer_id, **kw):
        self.id = timer_id
        self.callback = None
        if kw:
            self.init(**kw)

    def init(self, mode=PERIODIC, period=-1, freq=-1, callback=None):
        self.mode = mode
        self.period = period
        self.callback = callback

    def deinit(self):
        self.callback = None


class WDT:
    def __init__(self, id=0, timeout=5000):
        if not 1 <= timeout <= 0x7FFFFFFF:
            raise ValueError("WDT timeout %r out of range" % timeout)
        self.timeout = timeout
        self.last = _now()
        wdt_feeds.append(self.last)

    def feed(self):
        self.last = _now()
        wdt_feeds.append(self.last)


def reset_cause():
    return 1


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"
