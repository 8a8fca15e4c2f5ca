"""Hardware layer: the only firmware module that imports ``machine``.

Maps the controller's logical outputs to pins through the board file: "on" drives
the pin to its active level (MOSFET gate on, output high), "off" is the
free-floating state (output stage off; behaviour §1). Every output starts off,
which is the safe state: ATC and ATD withdrawn, ports open.
"""
import machine

import board as board_mod

ADC_ATTEN_11DB = 3   # machine.ADC.ATTN_11DB on the ESP32: about 0..3.1 V


WDT_TIMEOUT_MS = 5000   # the loop ticks every 100 ms; 5 s of silence means it is stuck


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


class Hardware:
    """Pins, UART and ADCs of one board.

    ``uart``: the link UART. ``set_output(index, on)`` with ``board.OUT_*``;
    ``all_safe()`` turns every output off; ``remote_l_mv()`` / ``remote_h_mv()``
    return the remote terminal voltages in mV (ADC reading times the divider).
    """

    def __init__(self, board, uart_rxbuf=4096):
        self.board = board
        self._wdt = None
        n = len(board_mod.OUTPUT_NAMES)
        self._pins = []                 # machine.Pin, or None where the board has no such output
        self._active = [1] * n
        self.state = bytearray(n)       # logical state per output, 1 = on
        outs = board["outputs"]
        for i in range(n):
            name = board_mod.OUTPUT_NAMES[i]
            pin = None
            if name in outs:
                active = 1 if outs[name].get("active_high", True) else 0
                self._active[i] = active
                pin = machine.Pin(outs[name]["pin"], machine.Pin.OUT, value=1 - active)
            self._pins.append(pin)
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
