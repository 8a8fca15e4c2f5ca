"""The firmware side of a simulation, in the MicroPython subset.

``snapshot(app)`` is what the simulator records each tick, from the firmware's
own state; the CPython simulator calls it directly, and under MicroPython
``run(config)`` calls it from the firmware loop's clock: each ``sleep_ms`` sends
the snapshot and the bytes the firmware wrote to the host (``simhost.exchange``,
a synchronous call into Node) and applies the reply (bytes for the UART, ADC
levels, soft switch, settings) before the loop's next tick.
"""
import json

import alternator as AL
import balancer as BL
import codes as C
import indicators as IN
import system_port as SP

MAX_CELLS = 16
MAX_TEMPS = 4


def snapshot(app, frames_seen):
    """A dict of the firmware's view, read from its status record; battery cells
    only when a new frame came."""
    st = app.status
    b = st.bank
    have = b is not None
    s = {
        "bank_mv": b.bank_mv if have else None,
        "current_ma": st.current_ma if have or st.current_known else None,
        "cell_min_mv": b.cell_min_mv if have else None,
        "cell_max_mv": b.cell_max_mv if have else None,
        "temp_min_dc": b.temp_min_dc if have else None,
        "temp_max_dc": b.temp_max_dc if have else None,
        "batteries": st.batteries,
        "series": b.series if have else None,
        "parallel": b.parallel if have else None,
        "system_v": b.system_v if have else None,
        "atc": st.atc,
        "atd": st.atd,
        "ports": [st.allowed[p] == 1 for p in range(C.N_PORTS)],
        "pre_alarm": st.pre_alarm,
        "pre_alarm_out": st.pre_alarm_out,
        "remote_on": st.remote_on,
        "codes": st.active_codes(),
        "atc_reasons": st.reason_list(C.PORT_ATC),
        "atd_reasons": st.reason_list(C.PORT_ATD),
        "port_reasons": [st.reason_list(p) for p in (C.PORT_ALT, C.PORT_SYS_CHG, C.PORT_SYS_DIS)],
        "frames_ok": st.link_frames_ok,
        "rejected": st.link_rejected,
        "answered_pct": st.link_answered_pct,
        "reading_age_ms": st.reading_age_ms,
        "at_once": st.readings_at_once,
        "errors": [st.link_errors[i] for i in range(len(st.link_errors))],
        "seq": st.link_seq,
        "soc_pct10": st.soc_pct10,
        "consumed_mah": st.consumed_mah,
        "ttg_min": st.ttg_min,
        "balancer": BL.NAMES[st.balancer],
        "syncs": st.synchronisations,
        "lithium_mv": st.lithium_mv,
        "alternator_mv": st.alternator_mv,
        "system_mv": st.system_mv,
        "alternator_ma": st.alternator_ma,
        "alternator_pct": st.alternator_pct,
        "alternator_limit_ma": st.alternator_limit_ma,
        "alternator_limit_why": AL.LIMIT_NAMES[st.alternator_limit_why],
        "alternator_duty": st.alternator_duty,
        "alternator_on": st.alternator_on,
        "alternator_state": AL.STATE_NAMES[st.alternator_state],
        "alternator_temp_dc": st.alternator_temp_dc,
        "bms_temp_dc": st.bms_temp_dc,
        "system_charge": st.system_charge,
        "system_discharge": st.system_discharge,
        "system_state": SP.STATE_NAMES[st.system_state],
        "port_trips": st.port_trips,
        "leds": [IN.LED_NAMES[i] for i in range(len(IN.LED_NAMES)) if (st.led_mask >> i) & (st.leds >> i) & 1],
    }
    if st.link_frames_ok != frames_seen:
        lb = app.link.bank
        s["cells"] = [[lb.cell_mv[i * MAX_CELLS + k] for k in range(lb.n_cells[i])] for i in range(lb.count)]
        s["temps"] = [[lb.temp_dc[i * MAX_TEMPS + k] for k in range(lb.n_temps[i])] for i in range(lb.count)]
    return s


def apply_commands(app, reply):
    """Post the simulator's user actions to the firmware's inbox (the same path
    the REPL takes); the next tick applies them."""
    import inbox as I
    if "soft_switch" in reply:
        app.inbox.post((I.SOFT_SWITCH, bool(reply["soft_switch"])))
    if reply.get("settings"):
        app.inbox.post((I.SETTINGS, reply["settings"]))
    if "set_soc_pct" in reply:
        app.inbox.post((I.SET_SOC, reply["set_soc_pct"]))
    if reply.get("reset_alarms"):
        app.inbox.post((I.RESET_ALARMS,))


def build(board, settings):
    """The firmware as ``main.build`` wires it, on an in-memory flash that holds
    ``settings`` as a user left them (so persistence runs in simulation too)."""
    import main
    import persist
    import store
    fs = store.MemFs()
    store.save(fs, persist.SETTINGS_FILE, persist.settings_doc(settings))
    return main.build(board, settings, fs)


class _Clock:
    def __init__(self, start, driver):
        self.t = start
        self.driver = driver

    def ticks_ms(self):
        return self.t

    def sleep_ms(self, ms):
        self.driver.exchange(ms)
        self.t = (self.t + ms) & ((1 << 30) - 1)


class _Driver:
    def __init__(self, app, machine, board, host):
        self.app = app
        self.machine = machine
        self.host = host
        self.uart = machine._uart_backends[board["link_uart"]["id"]]
        self.pins = {}
        self.pwm = []
        for name in board["outputs"]:
            o = board["outputs"][name]
            self.pins[name] = (o["pin"], 1 if o.get("active_high", True) else 0)
            if "pwm_hz" in o:
                self.pwm.append((name, o["pin"]))
        self.frames_seen = 0
        self.go = True

    def outputs(self):
        out = {}
        for name in self.pins:
            pin, active = self.pins[name]
            out[name] = self.machine.level(pin) == active
        return out

    def pwm_duties(self):
        out = {}
        for name, pin in self.pwm:
            out[name] = self.machine.pwm_duty(pin)
        return out

    def exchange(self, sleep_ms):
        s = snapshot(self.app, self.frames_seen)
        self.frames_seen = self.app.status.link_frames_ok
        msg = {"sleep_ms": sleep_ms, "snap": s, "sent": self.uart.take_sent().hex(), "outputs": self.outputs(),
               "pwm": self.pwm_duties()}
        while True:
            reply = json.loads(self.host.exchange(json.dumps(msg)))
            irq = reply.get("irq")
            if irq is None:
                break
            # A pin edge in the middle of the sleep (the comparator): the
            # interrupt handler runs now, and the host sees the outputs after it.
            for pin, level in irq:
                self.machine.drive(pin, level)
            msg = {"outputs": self.outputs(), "pwm": self.pwm_duties()}
        if reply.get("rx"):
            self.uart.feed(bytes.fromhex(reply["rx"]))
        adc = reply.get("adc")
        if adc:
            for pin in adc:
                self.machine.set_adc_mv(int(pin), adc[pin])
        apply_commands(self.app, reply)
        self.go = reply.get("go", True)


def run(config_json):
    """Build the BMS from ``config_json`` (board, settings, start ticks, initial
    ADC levels) and run the firmware's own ``main.run`` loop until the host says stop."""
    import machine
    import simhost
    import board as board_mod
    import main
    import settings as settings_mod
    cfg = json.loads(config_json)
    b = board_mod.validate(cfg["board"])
    machine.install(b["chip"])
    machine.attach_uart(b["link_uart"]["id"], machine.MemoryBackend())
    for pin in cfg["adc"]:
        machine.set_adc_mv(int(pin), cfg["adc"][pin])
    s = settings_mod.Settings()
    if cfg["settings"]:
        s.update(cfg["settings"])
    app = build(b, s)
    driver = _Driver(app, machine, b, simhost)
    clock = _Clock(cfg["start_ticks"], driver)
    main.run(app, clock, lambda: driver.go)
    return app
