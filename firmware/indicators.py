"""Indicator LEDs (behaviour §8) as one bit mask in ``status.leds``.

Smart BMS 12/200, left to right: alternator charging (green), BMS over-temperature
(red), BMS active (green), Bluetooth (blue), charge disconnect enabled (yellow),
load disconnect enabled (orange), charging from System+ enabled (green).
smallBMS NG: Bluetooth (blue) and the error LED (red: off = no code, blinking =
warnings only, on = an alarm or error). The model profile (``models``) says which
of them a product has; a board maps those it has pins for (``led_*`` outputs,
``status_led`` for the error LED).

Project choices (docs/alternator.md): the over-temperature LED blinks while the
BMS temperature derates the alternator and is on with A-B15; BMS active blinks
until the first reading; Bluetooth blinks while advertising and is on while
connected (``status.ble_state``). Blinking is ``BLINK_MS`` on, ``BLINK_MS`` off.
"""
from micropython import const

import codes as C

BLINK_MS = const(500)

LED_ALTERNATOR = const(0)
LED_BMS_TEMP = const(1)
LED_BMS_ACTIVE = const(2)
LED_BLUETOOTH = const(3)
LED_CHARGE = const(4)
LED_LOAD = const(5)
LED_SYSTEM_CHARGE = const(6)
LED_ERROR = const(7)
LED_NAMES = ("alternator", "bms_temp", "bms_active", "bluetooth", "charge_enabled", "load_enabled",
             "system_charge", "error")

BLE_OFF = const(0)
BLE_ADVERTISING = const(1)
BLE_CONNECTED = const(2)

ALT_LED_MA = const(500)       # the alternator LED: at least this much current flows


class Indicators:
    """``update(status, dt, alternator, system, bms_derating)`` fills
    ``status.leds`` (bit ``LED_*`` set = lit) and ``status.led_on`` (the error LED)."""

    def __init__(self):
        self._ms = 0
        self._err_ms = 0            # the error LED's blink starts lit with the first warning

    def update(self, st, dt, alt, sys_port, bms_derating):
        blink = self._ms < BLINK_MS   # lit for the first BLINK_MS of each period
        self._ms = (self._ms + dt) % (2 * BLINK_MS)
        m = 0
        if alt is not None and alt.on and alt.current_ma >= ALT_LED_MA:
            m |= 1 << LED_ALTERNATOR
        if st.active[C.A_B15] or (bms_derating and blink):
            m |= 1 << LED_BMS_TEMP
        if not st.startup or blink:
            m |= 1 << LED_BMS_ACTIVE
        b = st.ble_state
        if b == BLE_CONNECTED or (b == BLE_ADVERTISING and blink):
            m |= 1 << LED_BLUETOOTH
        if st.allowed[C.PORT_ATC]:
            m |= 1 << LED_CHARGE
        if st.allowed[C.PORT_ATD]:
            m |= 1 << LED_LOAD
        if sys_port is not None and sys_port.charge:
            m |= 1 << LED_SYSTEM_CHARGE
        worst = 0
        a = st.active
        for cid in range(C.N_CODES):
            if a[cid]:
                sev = C.TABLE[cid][1]
                if sev > worst:
                    worst = sev
        if worst >= C.SEVERITY_ALARM or (worst == C.SEVERITY_WARNING and self._err_ms < BLINK_MS):
            m |= 1 << LED_ERROR
        if worst == C.SEVERITY_WARNING:
            self._err_ms = (self._err_ms + dt) % (2 * BLINK_MS)
        else:
            self._err_ms = 0
        st.leds = m
        st.led_on = bool(m & (1 << LED_ERROR))
