"""The firmware side of a simulation, in the MicroPython subset.

``snapshot(app)`` is what the simulator records each tick, from the firmware's
own state; the CPython simulator calls it directly. Under MicroPython the host
(host_tools/mpy/sim_host.mjs) calls ``start(config)`` and then ``step(reply)``
once per sleep of the firmware's own loop (``main.periods``): each returns the
snapshot and the bytes the firmware wrote, and each reply brings the bytes for
the UART, ADC levels, soft switch and settings before the loop's next tick.
"""
import gc
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
        "ticks": st.ticks,
        "missed_ticks": app.missed_ticks,
        "flash_writes": (app.persister.writes if app.persister is not None else 0) + (
            app.alarm_state.writes if app.alarm_state is not None else 0),
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
    """The firmware's clock in the lockstep: the host moves it between steps."""

    def __init__(self, start):
        self.t = start

    def ticks_ms(self):
        return self.t


class _Driver:
    def __init__(self, app, machine, board):
        self.app = app
        self.machine = machine
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
        self.mem = None
        self.mem_pending = False

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

    def message(self, sleep_ms):
        """What the firmware says as it goes to sleep for ``sleep_ms``."""
        # The pin mock records every output edge for tests; the lockstep reads
        # levels, so the record would only grow (LEDs blink all day long).
        if self.machine.transitions:
            del self.machine.transitions[:]
        if self.machine.wdt_feeds:
            del self.machine.wdt_feeds[:]
        s = snapshot(self.app, self.frames_seen)
        self.frames_seen = self.app.status.link_frames_ok
        msg = {"sleep_ms": sleep_ms, "snap": s, "sent": self.uart.take_sent().hex(), "outputs": self.outputs(),
               "pwm": self.pwm_duties()}
        if self.mem is not None:
            msg["mem_alloc"] = self.mem
            self.mem = None
        return msg

    def take(self, reply):
        """The host's reply after the sleep: the ring's bytes, ADC levels, user
        commands; whether to go on; how long the sleep really lasted."""
        if reply.get("rx"):
            self.uart.feed(bytes.fromhex(reply["rx"]))
        adc = reply.get("adc")
        if adc:
            for pin in adc:
                self.machine.set_adc_mv(int(pin), adc[pin])
        apply_commands(self.app, reply)
        self.go = reply.get("go", True)
        if reply.get("mem"):
            # The soak's heap figure: what is in use after a collection. This
            # port collects only when an entry from JavaScript returns (a
            # gc.collect() inside one does nothing): the batch ends here and
            # the next entry reads the heap first (``step``).
            self.mem_pending = True
        return reply.get("extra_ms", 0)


_run = {}


def start(config_json):
    """Build the BMS from ``config_json`` (board, settings, start ticks, initial
    ADC levels) and run the firmware's own loop (``main.periods``) to its first
    sleep; return that message (JSON text).

    The host then calls ``step(reply_json)``: a batch of sleeps per entry from
    JavaScript. This WebAssembly port frees garbage only when an entry
    returns, so a run of days stays within its heap and the soak's heap figure
    is the firmware's."""
    import machine
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
    driver = _Driver(app, machine, b)
    clock = _Clock(cfg["start_ticks"])
    gen = main.periods(app, clock, lambda: driver.go)
    _run.update(app=app, driver=driver, clock=clock, gen=gen)
    return _next()


def _next():
    r = _run
    try:
        w = next(r["gen"])
    except StopIteration:
        return json.dumps({"done": True})
    r["wait"] = w
    return json.dumps(r["driver"].message(w))


# Steps taken inside one entry from JavaScript before returning to it: this port
# collects garbage when an entry returns (a full collection, about 0.5 ms), and
# only then, so a batch bounds the garbage and spares the time.
BATCH = 200


def step(reply_json):
    """One sleep's end, and up to ``BATCH`` more: the host's reply; the
    firmware runs to its next sleep. Returns the JSON text of its message
    (``{"done": true}`` once told to stop; ``{"outputs", "pwm"}`` after a
    mid-sleep interrupt); within a batch the messages go to the host through
    ``simhost.exchange``, which returns its reply."""
    import simhost
    d = _run["driver"]
    if d.mem_pending:
        d.mem_pending = False
        d.mem = gc.mem_alloc() if hasattr(gc, "mem_alloc") else -1
    for i in range(BATCH):
        out = _step(reply_json)
        if i == BATCH - 1 or out.startswith('{"done"') or d.mem_pending:
            return out
        reply_json = simhost.exchange(out)
    return out


def _step(reply_json):
    r = _run
    reply = json.loads(reply_json)
    d = r["driver"]
    irq = reply.get("irq")
    if irq is not None:
        # A pin edge in the middle of the sleep (the comparator): the interrupt
        # handler runs now, and the host sees the outputs after it.
        for pin, level in irq:
            d.machine.drive(pin, level)
        return json.dumps({"outputs": d.outputs(), "pwm": d.pwm_duties()})
    extra = d.take(reply)
    c = r["clock"]
    # The host may let more time pass than asked (the soak's quiet stretches).
    c.t = (c.t + r["wait"] + extra) & ((1 << 30) - 1)
    return _next()
