"""Hardware layer: the only firmware module that imports ``machine``.

Maps the controller's logical outputs to pins through the board file: "on" drives
the pin to its active level (MOSFET gate on, output high), "off" is the
free-floating state (output stage off; behaviour §1). Every output starts off,
which is the safe state: ATC and ATD withdrawn, ports open.
"""
import machine

import board as board_mod
from ntc import Ntc

ADC_ATTEN_11DB = 3   # machine.ADC.ATTN_11DB on the ESP32: about 0..3.1 V


WDT_TIMEOUT_MS = 5000   # the loop ticks every 100 ms; 5 s of silence means it is stuck
DROP_SAMPLES = 4        # fuse-drop reads averaged per tick (the ESP32 ADC is noisy)
VOLT_SAMPLES = 4        # and voltage reads


def safe_pins(board_path):
    """Drive every output pin of the board file at ``board_path`` to its off level.

    For ``boot.py``: cheap, imports nothing else, never raises (a missing or bad
    board file leaves the pins to the gate drivers' pull-downs).
    """
    try:
        b = board_mod.load(board_path)
        for o in b["outputs"].values():
            machine.Pin(o["pin"], machine.Pin.OUT, value=0 if o.get("active_high", True) else 1)
    except Exception:
        pass


# The ESP32 port's Pin takes ``hold`` (GPIO hold through a software reset); the
# generic stubs do not list it, so it is passed from these.
_HOLD = {"hold": True}
_RELEASE = {"hold": False}


def hold_output(board_path, name, on):
    """Hold output ``name`` at ``on`` through the next reset (the ESP32's GPIO
    hold): before the reset into an update, so the loads stay up while the new
    version starts (behaviour §11; docs/update.md). Returns True if held."""
    try:
        b = board_mod.load(board_path)
        o = b["outputs"][name]
        level = (1 if on else 0) if o.get("active_high", True) else (0 if on else 1)
        machine.Pin(o["pin"], machine.Pin.OUT, value=level, **_HOLD)
        return True
    except Exception:
        return False


def reset():
    """``machine.reset()``: the loader's way into the previous version."""
    machine.reset()


def release_holds(board_path):
    """Release every output's hold: each pin takes the level last written to it
    (the new version's decision, or off: ``safe_pins`` at boot)."""
    try:
        b = board_mod.load(board_path)
        for o in b["outputs"].values():
            machine.Pin(o["pin"], machine.Pin.OUT, **_RELEASE)
    except Exception:
        pass


class Hardware:
    """Pins, UART and ADCs of one board.

    ``uart``: the link UART. ``set_output(index, on)`` with ``board.OUT_*``;
    ``all_safe()`` turns every output off; ``remote_l_mv()`` / ``remote_h_mv()``
    return the remote terminal voltages in mV (ADC reading times the divider).

    Power ports (docs/alternator.md): ``set_duty(index, duty_u16)`` drives a PWM
    output (the alternator gate); ``sense()`` reads the analog sensors into
    ``in_mv``, ``li_mv``, ``sys_mv`` (mV), ``drop_uv`` (µV across the fuse, the
    mean of ``DROP_SAMPLES`` reads), ``alt_temp_dc``, ``bms_temp_dc`` (0.1 °C or
    ``ntc.SENSOR_OPEN`` / ``SENSOR_SHORT``), each ``None`` where the board has no such sensor.
    ``shorts`` counts the over-current comparator's interrupts: the handler opens
    the System+ gates and the pre-charge path at once, without allocating.
    """

    def __init__(self, board, uart_rxbuf=4096):
        self.board = board
        self._wdt = None
        n = len(board_mod.OUTPUT_NAMES)
        self._pins = []                 # machine.Pin, or None where the board has no such output
        self._pwm = [None] * n  # type: list  # machine.PWM for a PWM output
        self._active = [1] * n
        self.state = bytearray(n)       # logical state per output, 1 = on
        self.duty = [0] * n             # duty_u16 of a PWM output
        outs = board["outputs"]
        for i in range(n):
            name = board_mod.OUTPUT_NAMES[i]
            pin = None
            if name in outs:
                active = 1 if outs[name].get("active_high", True) else 0
                self._active[i] = active
                pin = machine.Pin(outs[name]["pin"], machine.Pin.OUT, value=1 - active)
                if "pwm_hz" in outs[name]:
                    self._pwm[i] = machine.PWM(pin, freq=outs[name]["pwm_hz"], duty_u16=0)
            self._pins.append(pin)
        self.has_output = bytearray(1 if p is not None else 0 for p in self._pins)
        self._setup_sensors(board.get("analog", {}))
        self.shorts = 0
        sc = board.get("short_circuit")
        if sc is not None:
            self._on_short_cb = self._on_short      # bound once: the handler must not allocate
            self._short_pin = machine.Pin(sc["pin"], machine.Pin.IN)
            trig = machine.Pin.IRQ_RISING if sc.get("active_high", True) else machine.Pin.IRQ_FALLING
            self._short_pin.irq(handler=self._on_short_cb, trigger=trig, hard=True)
        u = board["link_uart"]
        self.uart = machine.UART(u["id"], baudrate=u["baudrate"], tx=u["tx"], rx=u["rx"],
                                 rxbuf=uart_rxbuf)
        ins = board["inputs"]
        self._adc_l = machine.ADC(machine.Pin(ins["remote_l"]["adc_pin"]), atten=ADC_ATTEN_11DB)
        self._adc_h = machine.ADC(machine.Pin(ins["remote_h"]["adc_pin"]), atten=ADC_ATTEN_11DB)
        self._div_l = ins["remote_l"]["divider_x1000"]
        self._div_h = ins["remote_h"]["divider_x1000"]
        cur = board.get("current", {"source": "records"})
        self.has_shunt = cur["source"] == "shunt"
        if self.has_shunt:
            self._adc_i = machine.ADC(machine.Pin(cur["adc_pin"]), atten=ADC_ATTEN_11DB)
            self._zero_uv = cur["zero_uv"]
            self._uv_per_a = cur["uv_per_a"]

    def _setup_sensors(self, analog):
        self.in_mv = None  # type: int | None
        self.li_mv = None  # type: int | None
        self.sys_mv = None  # type: int | None
        self.drop_uv = None  # type: int | None
        self.alt_temp_dc = None  # type: int | None
        self.bms_temp_dc = None  # type: int | None
        self._adc = {}
        for name in analog:
            self._adc[name] = machine.ADC(machine.Pin(analog[name]["adc_pin"]), atten=ADC_ATTEN_11DB)
        a = analog.get("alternator_a")
        self._a_adc = self._adc.get("alternator_a")
        if a is not None:
            self._alt_zero_uv = a["zero_uv"]      # (not the bank shunt's _zero_uv)
            self._alt_gain = a["gain"]
        self._v_adc = []
        for name in ("alternator_v", "lithium_v", "system_v"):
            self._v_adc.append((self._adc[name], analog[name]["divider_x1000"]) if name in analog else None)
        self._ntc = []
        for name in ("alternator_temp", "bms_temp"):
            n = analog.get(name)
            self._ntc.append((self._adc[name], Ntc(n["r25_ohm"], n["beta"], n["series_ohm"], n["supply_mv"]))
                             if n is not None else None)

    def sense(self):
        """Read the power ports' sensors (once per tick; no allocation)."""
        a = self._a_adc
        if a is not None:
            uv = 0
            for _ in range(DROP_SAMPLES):
                uv += a.read_uv()
            self.drop_uv = (uv // DROP_SAMPLES - self._alt_zero_uv) // self._alt_gain
        v = self._v_adc
        if v[0] is not None:
            self.in_mv = self._volts(v[0])
        if v[1] is not None:
            self.li_mv = self._volts(v[1])
        if v[2] is not None:
            self.sys_mv = self._volts(v[2])
        t = self._ntc
        if t[0] is not None:
            self.alt_temp_dc = t[0][1].dc(t[0][0].read_uv() // 1000)
        if t[1] is not None:
            self.bms_temp_dc = t[1][1].dc(t[1][0].read_uv() // 1000)

    def _volts(self, sensor):
        # A divided voltage in mV: the mean of VOLT_SAMPLES reads (the one-way
        # rule compares two of them, so their noise matters).
        adc = sensor[0]
        uv = 0
        for _ in range(VOLT_SAMPLES):
            uv += adc.read_uv()
        return uv // (VOLT_SAMPLES * 1000) * sensor[1] // 1000

    def _on_short(self, pin):
        # The comparator's interrupt (hard: it runs at once, may not allocate).
        self._off(board_mod.OUT_SYSTEM_CHARGE)
        self._off(board_mod.OUT_SYSTEM_DISCHARGE)
        self._off(board_mod.OUT_SYSTEM_PRECHARGE)
        self.shorts += 1

    def _off(self, i):
        self.state[i] = 0
        p = self._pins[i]
        if p is not None:
            p.value(1 - self._active[i])

    def set_duty(self, index, duty):
        """Drive PWM output ``index`` at ``duty`` (0..65535); 0 is off."""
        if self.duty[index] == duty:
            return
        self.duty[index] = duty
        self.state[index] = 1 if duty else 0
        pwm = self._pwm[index]
        if pwm is not None:
            pwm.duty_u16(duty)

    def start_watchdog(self, timeout_ms=WDT_TIMEOUT_MS):
        """Start the hardware watchdog; from then on ``feed()`` must come in time.

        On the ESP32 a started WDT cannot be stopped: a hung or dead control loop
        resets the chip, and ``boot.py`` makes the outputs safe again.
        """
        self._wdt = machine.WDT(timeout=timeout_ms)

    def feed(self):
        """Feed the watchdog, if started (called once per control tick)."""
        if self._wdt is not None:
            self._wdt.feed()

    def set_output(self, index, on):
        """Drive logical output ``index`` (``board.OUT_*``) on or off; absent outputs are ignored."""
        if self._pwm[index] is not None:
            self.set_duty(index, 65535 if on else 0)
            return
        v = 1 if on else 0
        if self.state[index] == v:
            return
        self.state[index] = v
        pin = self._pins[index]
        if pin is not None:
            pin.value(self._active[index] if v else 1 - self._active[index])

    def all_safe(self):
        """Every output off: ATC, ATD and ports withdrawn, pre-alarm and LED off."""
        for i in range(len(self._pins)):
            self.set_output(i, False)

    def shunt_ma(self):
        """Bank current from the shunt amplifier in mA (+ = charging), uncalibrated.

        (µV - zero) / (µV per A): scaled in two steps so every product stays a
        small int on a 32-bit port (±3.1 V at the ADC, 10 µV/A and up)."""
        diff = self._adc_i.read_uv() - self._zero_uv
        return (diff // 10) * 1000 // (self._uv_per_a // 10) if diff >= 0 else \
            -(((-diff) // 10) * 1000 // (self._uv_per_a // 10))

    def remote_l_mv(self):
        return self._adc_l.read_uv() // 1000 * self._div_l // 1000

    def remote_h_mv(self):
        return self._adc_h.read_uv() // 1000 * self._div_h // 1000
