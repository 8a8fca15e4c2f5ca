"""The runner: the firmware's own loop against the world, on a virtual clock.

The firmware is built as ``main.build`` builds it on the board (board file,
settings, persistence on an in-memory flash: ``sim_driver.build``) and runs its
own ``main.run`` loop; each ``sleep_ms`` of the loop's clock moves the world
(``world``), runs the scenario's steps, serves the ring through the faults
(``faults``) and records the trace (``trace``). Under ``--interpreter
micropython`` the same loop runs inside MicroPython in lockstep.
"""
import json
import os

import host_tools
from host_tools import power, ring, scenario as scen
from host_tools.vclock import VirtualClock

from .console import Console
from .faults import Faults
from .links import InBandLink, MemoryLink, MicroPythonFirmware, PtyLink
from .trace import (CHANGE_KEYS, MODEL_OUTPUTS, PLOT_SETTINGS, SAMPLE_MS, TraceWriter, add_truth, empty_snapshot,
                    integrity_failures, record)
from .world import World

DEFAULT_BOARD = "esp32-devkitc"
START_TICKS_MS = (1 << 30) - 600_000   # ticks_ms wraps 10 minutes into every run
COMMAND_KEYS = ("soft_switch", "settings", "set_soc_pct", "reset_alarms")


class Simulation:
    """One scenario run. ``run()`` returns True when every expectation held.

    After the run: ``trace`` (list of dicts), ``failures`` (list of str),
    ``events`` (printed change lines), ``app`` (the firmware ``Bms`` under CPython).
    """

    def __init__(self, sc, trace_path=None, link="pty", echo=print, live=False, interpreter="cpython", soak=None):
        self.sc = sc
        # The soak's time compression (host_tools/soak.py, docs/reliability.md):
        # {"quiet_tick_ms", "active_window_ms", "sample_ms", "mem_every_ms"}, or None.
        self.soak = soak
        self.interpreter = interpreter
        self.trace_path = trace_path
        self.link_kind = link
        self.failures = []
        self.console = Console(sc.get("name", "scenario"), echo, live, sc.get("duration_s"))
        self.events = self.console.events

    # ----- set-up ---------------------------------------------------------
    def _setup(self):
        sc = self.sc
        board_file = host_tools.board_path(sc.get("board", DEFAULT_BOARD))
        with open(board_file) as f:
            chip = json.load(f)["chip"]
        self.clock = VirtualClock(sc.get("start_ticks_ms", START_TICKS_MS), self._advance)
        self.pm = host_tools.use_firmware(chip, self.clock)
        import board as fw_board
        import codes as fw_codes
        import settings as fw_settings
        from host_tools.mpy import sim_driver
        self.C = fw_codes
        self.sim_driver = sim_driver
        self.board = fw_board.load(board_file)
        u = self.board["link_uart"]
        self.baudrate = u["baudrate"]
        self.settings = fw_settings.Settings()
        if sc.get("settings"):
            self.settings.update(sc["settings"])    # checked here in both modes: a bad value stops the run
        # A copy that checks each step's settings before they are sent to the firmware.
        self._check_settings = fw_settings.Settings()
        self._check_settings.update(dict((n, self.settings.get(n)) for n in self.settings.names()))
        bank_kw = sc.get("bank", {})
        plant_kw = sc.get("plant", {})
        import alternator as fw_alt
        fuse = plant_kw.get("fuse", self.settings.get("fuse_type"))
        fuse_uohm = [row[2] for row in fw_alt.FUSES if row[0] == fuse][0]
        self.world = World(bank_kw, plant_kw, fuse_uohm)
        self._adc_noise_mv = plant_kw.get("adc_noise_mv", 0.0)
        self._short_pin = self.board.get("short_circuit", {}).get("pin")
        self.bank = self.world.bank
        self.faults = Faults(bank_kw.get("seed", 1))
        self._reply = {}
        self._adc_sent = {}
        self._msg = None
        self._snap_frames = 0
        self.mp = None
        self.app = None
        if self.interpreter == "micropython":
            self.link = InBandLink()
            self.mp = MicroPythonFirmware()
        else:
            self.link = (PtyLink if self.link_kind == "pty" else MemoryLink)(self.pm, u["id"], u["baudrate"])
        self._apply_remote()
        self._set_power_adcs()
        if self.mp is None:
            self.app = sim_driver.build(self.board, self.settings)
        self.out_pins = {}
        for name, o in self.board["outputs"].items():
            self.out_pins[name] = (o["pin"], o.get("active_high", True))
        self.pending = []         # (due elapsed ms, bytes) responses on their way
        self.sent_cells = {}      # seq -> [(cells, temps)] as encoded, before any corruption
        self._rxbuf = bytearray()
        self._step = 0
        self._step_since_ms = 0
        self._event_seen_ms = None
        self._prev = None
        self._before = None
        self._end_ms = int(sc["duration_s"] * 1000)
        self._finish_ms = None
        self._timed_out = False
        self._notes = []
        self._lines_changed = False     # a step changed a trip line the trace carries (PLOT_SETTINGS)
        self._active_until = 0          # the soak: full-rate ticks until then
        self._last_sample_ms = -(1 << 40)
        self._next_mem_ms = 0
        self.imposed_missed = 0         # the soak's quiet stretches: periods skipped on purpose
        self.last_extra = 0
        self._fast_prev = None
        self._checked_frames = 0
        import bank as fw_bank
        self._max_cells = fw_bank.MAX_CELLS
        self.quiet_ms = 0               # simulated time spent in quiet stretches
        self.mem_samples = []           # (t_ms, bytes in use) under MicroPython, the soak

    # ----- the world moves while the firmware sleeps ----------------------
    def _out_on(self, name):
        if self.mp is not None:
            return self._msg["outputs"].get(name, False)
        if name not in self.out_pins:
            return False
        pin, active_high = self.out_pins[name]
        return self.pm.level(pin) == (1 if active_high else 0)

    def _out_duty(self, name):
        """The PWM duty (0..1) of output ``name``."""
        if self.mp is not None:
            return self._msg.get("pwm", {}).get(name, 0) / 65535.0
        if name not in self.out_pins:
            return 0.0
        return self.pm.pwm_duty(self.out_pins[name][0]) / 65535.0

    def _comparator(self):
        """The over-current comparator fired: a pulse on its pin, which the
        firmware's interrupt handler answers at once (inside MicroPython too)."""
        pin = self._short_pin
        if pin is None:
            return
        if self.mp is not None:
            m = self.mp.exchange({"irq": [[pin, 1], [pin, 0]]})
            self._msg["outputs"] = m["outputs"]
        else:
            self.pm.drive(pin, 1)
            self.pm.drive(pin, 0)
        self.world.comparator_trips += 1

    def _set_power_adcs(self):
        w = self.world
        vals = {"alternator_a": w.alt.current_a, "alternator_v": w.alt.input_v, "lithium_v": w.alt.lithium_v,
                "system_v": w.sys.v, "alternator_temp": w.alt.alternator.temp_c, "bms_temp": w.bms_temp_c}
        for name, a in self.board.get("analog", {}).items():
            mv = power.pin_mv(self.board, name, vals[name], w.fuse_uohm)
            if self._adc_noise_mv:
                mv = int(round(min(power.ADC_FULL_MV, max(0, mv + w.rng.gauss(0.0, self._adc_noise_mv)))))
            self._set_adc(a["adc_pin"], mv)

    def _set_adc(self, pin, mv):
        if self._adc_sent.get(pin) == mv:
            return                    # unchanged: the pin keeps its level (and the message stays small)
        self._adc_sent[pin] = mv
        if self.mp is not None:
            self._reply.setdefault("adc", {})[str(pin)] = mv
        else:
            self.pm.set_adc_mv(pin, mv)

    def _apply_remote(self):
        l_mv, h_mv = self.world.remote_mv()
        ins = self.board["inputs"]
        self._set_adc(ins["remote_l"]["adc_pin"], int(l_mv * 1000 / ins["remote_l"]["divider_x1000"]))
        self._set_adc(ins["remote_h"]["adc_pin"], int(h_mv * 1000 / ins["remote_h"]["divider_x1000"]))

    def _extra_ms(self):
        """The soak's quiet stretches: nothing changed for ``active_window_ms``, no
        fault on, no engine running, no cycle: the firmware ticks every
        ``quiet_tick_ms`` instead of every ``bms.TICK_MS`` (the loop counts the
        periods skipped as missed: ``_count_quiet``). 0 outside the soak."""
        sk = self.soak
        if sk is None:
            return 0
        t = self.clock.elapsed_ms
        w = self.world
        if (t < self._active_until or self.faults.active or w.cycle is not None
                or w.alt.alternator.engine_rpm > 0 or w.alt.alternator.target_rpm > 0):
            return 0
        return sk["quiet_tick_ms"] - 100

    def _advance(self, dt_ms):
        t_ms = self.clock.elapsed_ms - dt_ms   # the firmware ticked at this time
        self._observe(t_ms)
        self._run_steps(t_ms)
        w = self.world
        if w.sys.demand_a(self._out_on("system_discharge"), w.alt.lithium_v) > w.sys.comparator_a:
            self._comparator()
        gates = (self._out_on("system_charge"), self._out_on("system_discharge"), self._out_on("system_precharge"))
        # A main contactor (Lynx Smart BMS) cuts the bank off from everything when open.
        main = self._out_on("contactor") if "contactor" in self.out_pins else True
        current = w.step(dt_ms, t_ms, self._out_on("charge_disconnect") and main, self._out_on("load_disconnect") and main,
                         self._out_duty("alternator_port"), gates, main)
        self._set_power_adcs()
        self._apply_remote()
        cur = self.board.get("current", {})
        if cur.get("source") == "shunt":
            # The shunt amplifier's output, with the sensor error the scenario sets.
            seen_a = current * self.bank.gain + self.bank.offset_a
            self._set_adc(cur["adc_pin"], int((cur["zero_uv"] + seen_a * cur["uv_per_a"]) / 1000))
        self._serve_ring(t_ms)
        self._deliver(self.clock.elapsed_ms)

    def _serve_ring(self, t_ms):
        self._rxbuf += self.link.take_sent()
        frames, used = ring.split_stream(self._rxbuf)
        del self._rxbuf[:used]
        for fr in frames:
            out = self._through_ring(fr, t_ms)
            if out is None:
                continue
            latency_ms = 1 + len(out) * 10 * 1000 // self.baudrate + len(self.bank.batteries)
            self.pending.append((t_ms + latency_ms, out))

    def _through_ring(self, fr, t_ms):
        f = self.faults
        if f.on("unplug"):
            return None
        try:
            _, _, seq, _, _ = ring.parse(fr)
        except ValueError:
            return None
        out = fr
        snap = []
        missing = f.missing()
        if missing is not None:
            for i, b in enumerate(self.bank.batteries):
                if i in missing:
                    continue
                cells = self.world.reported_cells(b)
                temps = [int(round(t * 10)) for t in b.temps_c]
                snap.append((cells, temps))
                out = ring.forward(out, lambda addr, b=b, cells=cells, temps=temps: ring.record(
                    addr, b.serial, int(b.capacity_ah), b.fw_version, sum(cells),
                    int(round(self.bank.reported_current_a(b) * 1000)), b.flags, b.series_pos, cells, temps))
                if out is None:
                    return None
        self.sent_cells[seq] = snap
        if len(self.sent_cells) > 8:
            del self.sent_cells[min(self.sent_cells, key=lambda k: (k - seq) % 256 or 256)]
        return f.answer(out, seq, t_ms)

    def _deliver(self, now_ms):
        due = [p for p in self.pending if p[0] <= now_ms]
        if due:
            self.pending = [p for p in self.pending if p[0] > now_ms]
            self.link.deliver(b"".join(d for _, d in due))

    # ----- steps ----------------------------------------------------------
    def _run_steps(self, t_ms):
        steps = self.sc["step"]
        while self._step < len(steps):
            st = steps[self._step]
            waited = t_ms - self._step_since_ms
            if "t_s" in st:
                ready = t_ms >= st["t_s"] * 1000
            elif "wait_s" in st:
                ready = waited >= st["wait_s"] * 1000
            elif "until" in st:
                if self._event_seen_ms is None and self._happened(st["until"]):
                    self._event_seen_ms = t_ms
                ready = self._event_seen_ms is not None and t_ms - self._event_seen_ms >= st.get("delay_s", 0) * 1000
            else:
                ready = True
            if not ready:
                # The trigger has not come (an event seen, its delay_s running, has come).
                if "timeout_s" in st and self._event_seen_ms is None and waited > st["timeout_s"] * 1000:
                    what = [("%s %s" % (k, st[k])) for k in ("until", "wait_s", "t_s") if k in st][0]
                    self.failures.append("step %d (%s%s) timed out at %.1f s: its timeout_s %s ran out, counted "
                                         "from %.1f s, %s; the run stopped there" % (
                                             self._step + 1, what, (": " + st["note"]) if st.get("note") else "",
                                             t_ms / 1000.0, st["timeout_s"], self._step_since_ms / 1000.0,
                                             "when the step before it ran" if self._step else "the start of the run"))
                    self._finish_ms = t_ms
                    self._timed_out = True
                return
            self._apply_step(st, t_ms)
            self._step += 1
            self._step_since_ms = t_ms
            self._event_seen_ms = None
        if self._finish_ms is None and "end_after_s" in self.sc:
            self._finish_ms = t_ms + int(self.sc["end_after_s"] * 1000)

    def _happened(self, until):
        """True when the event happened at this tick: an edge, not a level, so a
        state that already held when the step began does not count."""
        r, before = self._prev, self._before
        if r is None or before is None:
            return False
        if until.startswith("code:"):
            return until[5:] in r["codes"] and until[5:] not in before["codes"]
        if until == "soc_known":
            return r["soc_pct"] is not None and before["soc_pct"] is None
        if until == "synchronised":
            return r["synchronisations"] > before["synchronisations"]
        if until.startswith("soc_below:"):
            level = float(until[10:])
            return (r["soc_pct"] is not None and r["soc_pct"] <= level
                    and (before["soc_pct"] is None or before["soc_pct"] > level))
        field, _, edge = until.rpartition("_")
        want = edge == "on"
        return r[field] == want and before[field] != want

    def _count_quiet(self, ms, extra):
        # The firmware's loop counts the periods a quiet sleep skips as missed
        # (main._loop): the soak subtracts these, imposed on purpose.
        self.last_extra = extra         # the last sleep's: no tick after it saw its periods
        if extra:
            self.quiet_ms += ms + extra
            self.imposed_missed += extra // 100

    def _apply_step(self, st, t_ms):
        if self.soak is not None:
            self._active_until = t_ms + self.soak["active_window_ms"]
        self.world.apply_step(st, t_ms)
        self.faults.apply_step(st)
        if "settings" in st:
            self._check_settings.update(st["settings"])
            self._lines_changed = self._lines_changed or any(n in PLOT_SETTINGS for n in st["settings"])
        cmds = dict((k, st[k]) for k in COMMAND_KEYS if k in st)
        if self.mp is not None:
            self._reply.update(cmds)
        elif cmds:
            self.sim_driver.apply_commands(self.app, cmds)
        if st.get("note"):
            self.console.say(t_ms, "step: " + st["note"])
            self._notes.append(st["note"])

    # ----- what the firmware shows ----------------------------------------
    def _snapshot(self):
        if self.mp is not None:
            return self._msg["snap"]
        snap = self.sim_driver.snapshot(self.app, self._snap_frames)
        self._snap_frames = self.app.status.link_frames_ok
        return snap

    def _fast_key(self):
        """The soak under CPython: what the change keys (trace.CHANGE_KEYS) are
        made from, read straight from the status record, so a tick in which
        none changed skips the snapshot (the trace keeps its samples)."""
        st = self.app.status
        al = st.allowed
        return (st.atc, st.atd, st.pre_alarm, st.pre_alarm_out, st.remote_on, bytes(st.active), st.batteries,
                st.balancer, al[2], st.alternator_on, st.alternator_state, st.alternator_limit_why,
                st.system_charge, st.system_discharge, st.system_state,
                tuple(self._out_on(n) for n in MODEL_OUTPUTS if n in self.out_pins))

    def _fast_integrity(self, t_ms):
        """The soak under CPython: every reading the firmware accepted, checked
        against what the ring sent at once (the snapshots are sparse there, and
        the sequence number wraps within a minute: trace.integrity_failures would
        look up an answer long forgotten)."""
        st = self.app.status
        if st.link_frames_ok == self._checked_frames:
            return
        self._checked_frames = st.link_frames_ok
        sent = self.sent_cells.get(st.link_seq)
        lb = self.app.link.bank
        if sent is None or len(sent) != lb.count:
            self.failures.append("at %.1f s the firmware accepted a reading the ring did not send" % (t_ms / 1000.0))
            return
        for i, (cells, temps) in enumerate(sent):
            base = i * self._max_cells
            if [lb.cell_mv[base + k] for k in range(lb.n_cells[i])] != cells:
                self.failures.append("at %.1f s battery %d: the firmware holds other cells than the ring sent"
                                     % (t_ms / 1000.0, i + 1))

    def _observe(self, t_ms, force=False):
        if self.soak is not None and self.mp is None:
            self._fast_integrity(t_ms)
        if self.soak is not None and self.mp is None and self._prev is not None and not force:
            key = self._fast_key()
            if (key == self._fast_prev and t_ms - self._last_sample_ms < self.soak["sample_ms"]
                    and not self._notes and not self._lines_changed):
                return
            self._fast_prev = key
        snap = self._snapshot()
        self._last_snap = snap
        rec = record(t_ms, snap)
        for name in MODEL_OUTPUTS:      # the Lynx Smart BMS's and the VE.Bus BMS V2's (docs/models.md)
            rec[name] = self._out_on(name) if name in self.out_pins else None
        if self.soak is None or self.mp is not None:
            self.failures += integrity_failures(t_ms, snap, self.sent_cells)
        prev = self._prev
        changed = prev is None or any(rec[k] != prev[k] for k in CHANGE_KEYS)
        if prev is None:
            # The thresholds a reader draws the cells against (bmsctl plot), as the run began.
            rec["settings"] = dict((n, self.settings.get(n)) for n in PLOT_SETTINGS)
            import models as fw_models
            rec["settings"]["model"] = fw_models.resolve(self.settings.get("model"), self.board)
            rec["scenario"] = self.sc.get("name", "")
        if self._notes:
            rec["note"] = " / ".join(self._notes)     # the steps that ran on the tick before
            self._notes = []
            changed = True
        if self._lines_changed and prev is not None:
            # A step changed a trip line: the lines from this record on (the model stays the run's).
            rec["settings"] = dict((n, self._check_settings.get(n)) for n in PLOT_SETTINGS if n != "model")
            self._lines_changed = False
            changed = True
        if self.soak is not None:
            sample = t_ms - self._last_sample_ms >= self.soak["sample_ms"]
            if changed:
                self._active_until = t_ms + self.soak["active_window_ms"]
        else:
            sample = t_ms % SAMPLE_MS == 0
        if changed or sample:
            self._last_sample_ms = t_ms
            self._trace.add(add_truth(rec, self.world))
            self.console.refresh(rec)
        if changed:
            self.console.changes(prev, rec, self.C)
        self._before, self._prev = self._prev, rec

    @property
    def trace(self):
        return self._trace.records

    # ----- run --------------------------------------------------------------
    def _keep_going(self):
        t = self.clock.elapsed_ms
        if self._finish_ms is not None and t >= self._finish_ms:
            return False
        return t < self._end_ms

    def run(self):
        if self.trace_path:
            os.makedirs(os.path.dirname(os.path.abspath(self.trace_path)), exist_ok=True)
        self._trace = TraceWriter(self.trace_path)
        self._setup()
        import main as fw_main
        try:
            self.console.start(add_truth(record(0, empty_snapshot()), self.world))
            if self.mp is None:
                fw_main.run(self.app, self.clock if self.soak is None else _QuietClock(self), self._keep_going)
            else:
                self._run_micropython()
            self._observe(self.clock.elapsed_ms, True)   # the state after the last tick
        finally:
            if self.trace:
                self.console.stop(self.trace[-1])
            self._trace.close()
            self.link.close()
            if self.mp is not None:
                self.mp.close()
        if self._step < len(self.sc["step"]) and not self._timed_out:
            self.failures.append("the scenario ended (duration_s %s) before step %d ran"
                                 % (self.sc["duration_s"], self._step + 1))
        import link as fw_link
        snap = self._last_snap
        errors = {name: snap["errors"][i] for i, name in enumerate(fw_link.ERROR_NAMES)}
        errors["frames_ok"] = snap["frames_ok"]
        self.link_errors = errors
        self.failures += scen.evaluate(self.sc, self.trace, errors)
        return not self.failures

    def _run_micropython(self):
        """Lockstep: the firmware's main.run inside MicroPython sends a message from
        each sleep; the world advances here, and the reply carries it back."""
        config = {"board": self.board, "settings": self.sc.get("settings", {}),
                  "start_ticks": self.clock.ticks_ms(), "adc": self._reply.pop("adc", {})}
        self._msg = self.mp.start(config)
        while True:
            self.link.sent = bytes.fromhex(self._msg["sent"])
            if "mem_alloc" in self._msg:
                self.mem_samples.append((self.clock.elapsed_ms, self._msg["mem_alloc"]))
            self._reply = {}
            extra = self._extra_ms()
            self._count_quiet(self._msg["sleep_ms"], extra)
            self.clock.advance(self._msg["sleep_ms"] + extra)      # calls _advance: the world moves
            if extra:
                self._reply["extra_ms"] = extra
            if self.soak is not None and self.clock.elapsed_ms >= self._next_mem_ms:
                self._reply["mem"] = True
                self._next_mem_ms = self.clock.elapsed_ms + self.soak["mem_every_ms"]
            go = self._keep_going()
            self._reply["rx"] = bytes(self.link.rx).hex()
            self._reply["go"] = go
            self.link.rx = bytearray()
            last = self._msg
            self._msg = self.mp.exchange(self._reply)
            if not go:
                if not self._msg.get("done"):
                    raise RuntimeError("the firmware loop under MicroPython did not stop when told")
                self._msg = last          # the state after the last tick
                break


class _QuietClock:
    """The firmware's clock in a CPython soak: each sleep lasts what the loop asked
    for, plus the quiet stretch's extra time (``Simulation._extra_ms``)."""

    def __init__(self, sim):
        self.sim = sim
        self.clock = sim.clock

    def ticks_ms(self):
        return self.clock.ticks_ms()

    def sleep_ms(self, ms):
        if self.sim.pm.transitions:
            # The soak reads levels; the pin mock's record of every LED blink over
            # 30 days would only grow.
            del self.sim.pm.transitions[:]
        extra = self.sim._extra_ms()
        self.sim._count_quiet(ms, extra)
        self.clock.sleep_ms(ms + extra)
