"""The firmware side of a simulation, in the MicroPython subset.

``snapshot(app)`` is what the simulator records each tick, from the firmware's
own state; the CPython simulator calls it directly, and under MicroPython
``run(config)`` calls it from the firmware loop's clock: each ``sleep_ms`` sends
the snapshot and the bytes the firmware wrote to the host (``simhost.exchange``,
a synchronous call into Node) and applies the reply (bytes for the UART, ADC
levels, soft switch, settings) before the loop's next tick.
"""
import json

import balancer as BL
import codes as C

MAX_CELLS = 16
MAX_TEMPS = 4


def snapshot(app, frames_seen):
    """A dict of the firmware's view; battery cells only when a new frame came."""
    p = app.protection
    link = app.link
    b = link.bank
    have = link.has_reading and b.count > 0
    s = {
        "bank_mv": b.bank_mv if have else None,
        "current_ma": b.bank_current_ma if have else None,
        "cell_min_mv": b.cell_min_mv if have else None,
        "cell_max_mv": b.cell_max_mv if have else None,
        "temp_min_dc": b.temp_min_dc if have else None,
        "temp_max_dc": b.temp_max_dc if have else None,
        "batteries": b.count if link.has_reading else 0,
        "series": b.series if have else None,
        "parallel": b.parallel if have else None,
        "system_v": b.system_v if have else None,
        "atc": p.atc,
        "atd": p.atd,
        "pre_alarm": p.pre_alarm,
        "pre_alarm_out": app.pre_alarm_out,
        "remote_on": p.remote_on,
        "codes": p.active_codes(),
        "atc_reasons": p.reasons(C.WITHDRAW_ATC),
        "atd_reasons": p.reasons(C.WITHDRAW_ATD),
        "frames_ok": link.frames_ok,
        "rejected": link.error_total(),
        "errors": [link.errors[i] for i in range(len(link.errors))],
        "seq": link.seq,
        "soc_pct10": app.monitor.soc_pct10,
        "consumed_mah": app.monitor.consumed_mah,
        "ttg_min": app.monitor.ttg_min,
        "balancer": BL.NAMES[app.balancer.status],
        "syncs": app.monitor.synchronised,
    }
    if link.frames_ok != frames_seen:
        s["cells"] = [[b.cell_mv[i * MAX_CELLS + k] for k in range(b.n_cells[i])] for i in range(b.count)]
        s["temps"] = [[b.temp_dc[i * MAX_TEMPS + k] for k in range(b.n_temps[i])] for i in range(b.count)]
    return s


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
        for name in board["outputs"]:
            o = board["outputs"][name]
            self.pins[name] = (o["pin"], 1 if o.get("active_high", True) else 0)
        self.frames_seen = 0
        self.go = True

    def outputs(self):
        out = {}
        for name in self.pins:
            pin, active = self.pins[name]
            out[name] = self.machine.level(pin) == active
        return out

    def exchange(self, sleep_ms):
        s = snapshot(self.app, self.frames_seen)
        self.frames_seen = self.app.link.frames_ok
        msg = {"sleep_ms": sleep_ms, "snap": s, "sent": self.uart.take_sent().hex(), "outputs": self.outputs()}
        reply = json.loads(self.host.exchange(json.dumps(msg)))
        if reply.get("rx"):
            self.uart.feed(bytes.fromhex(reply["rx"]))
        adc = reply.get("adc")
        if adc:
            for pin in adc:
                self.machine.set_adc_mv(int(pin), adc[pin])
        if "soft_switch" in reply:
            self.app.protection.set_soft_switch(reply["soft_switch"])
        if reply.get("settings"):
            self.app.settings.update(reply["settings"])
        self.go = reply.get("go", True)


def run(config_json):
    """Build the BMS from ``config_json`` (board, settings, start ticks, initial
    ADC levels) and run the firmware's own ``main.run`` loop until the host says stop."""
    import machine
    import simhost
    import bms
    import board as board_mod
    import hw
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
    app = bms.Bms(hw.Hardware(b), s)
    driver = _Driver(app, machine, b, simhost)
    clock = _Clock(cfg["start_ticks"], driver)
    main.run(app, clock, lambda: driver.go)
    return app
