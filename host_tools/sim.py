"""Run the firmware's own control loop against a simulated battery bank.

``python -m host_tools.sim SCENARIO [--trace FILE]`` builds the bank, wires the
firmware (``firmware/main.py``'s ``run``) to the pin mock, serves the link over a
pseudo-terminal with the simulator's own encoder, runs on a virtual clock, prints
every output change with its time and reason, writes a JSONL trace and exits 0
only if the scenario's expectations held. Trace fields: docs/trace.md.
"""
import argparse
import glob
import json
import os
import random
import select
import sys
import time
import tty

import host_tools
from host_tools import bank_sim, ring, scenario as scen
from host_tools.vclock import VirtualClock

DEFAULT_BOARD = "esp32-devkitc"
SAMPLE_MS = 1000          # a trace record every simulated second, plus one per change
START_TICKS_MS = (1 << 30) - 600_000   # ticks_ms wraps 10 minutes into every run


class PtyLink:
    """The ring's far end on a pseudo-terminal: the firmware's UART opens the slave
    through pyserial, the simulator reads and writes the master."""

    def __init__(self, pin_mock, uart_id, baudrate):
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.backend = pin_mock.SerialBackend(self.path, baudrate)
        pin_mock.attach_uart(uart_id, self.backend)
        self._seen = 0

    def take_sent(self):
        """Every byte the firmware wrote so far and not yet taken (waits for the kernel)."""
        out = bytearray()
        deadline = time.monotonic() + 2.0
        while self._seen < self.backend.tx_total:
            r, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                raise RuntimeError("pty: %d bytes written by the firmware never arrived"
                                   % (self.backend.tx_total - self._seen))
            data = os.read(self.master, 65536)
            self._seen += len(data)
            out += data
        return bytes(out)

    def deliver(self, data):
        before = self.backend.in_waiting()
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                select.select([], [self.master], [], 1.0)
                continue
            view = view[n:]
        deadline = time.monotonic() + 2.0
        while self.backend.in_waiting() < before + len(data):
            if time.monotonic() > deadline:
                raise RuntimeError("pty: response bytes never reached the firmware's UART")
            time.sleep(0.0001)

    def close(self):
        self.backend.close()
        os.close(self.master)
        os.close(self._slave)


class MemoryLink:
    """The same, in memory (no pty): for quick unit-level runs."""

    def __init__(self, pin_mock, uart_id, baudrate):
        self.backend = pin_mock.MemoryBackend()
        pin_mock.attach_uart(uart_id, self.backend)
        self.path = "memory"

    def take_sent(self):
        return self.backend.take_sent()

    def deliver(self, data):
        self.backend.feed(data)

    def close(self):
        pass


class MicroPythonFirmware:
    """The firmware's main loop inside MicroPython (host_tools/mpy/sim_host.mjs),
    in lockstep: ``start(config)`` and each ``exchange(reply)`` return the next
    message the firmware's clock sent from ``sleep_ms``."""

    def __init__(self):
        import subprocess
        mpy = os.path.join(host_tools.ROOT, "host_tools", "mpy")
        self.proc = subprocess.Popen(["node", os.path.join(mpy, "sim_host.mjs")], cwd=mpy, text=True, bufsize=1,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        files = {}
        for path in sorted(glob.glob(os.path.join(host_tools.FIRMWARE_DIR, "*.py"))):
            files["/lib/" + os.path.basename(path)] = open(path).read()
        files["/lib/machine.py"] = open(os.path.join(host_tools.ROOT, "host_tools", "pin_mock.py")).read()
        files["/lib/sim_driver.py"] = open(os.path.join(mpy, "sim_driver.py")).read()
        self.files = files

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("MicroPython ended without a word")
        msg = json.loads(line)
        if "error" in msg:
            raise RuntimeError("firmware raised under MicroPython:\n" + msg["error"])
        return msg

    def start(self, config):
        self.proc.stdin.write(json.dumps({"files": self.files, "config": json.dumps(config)}) + "\n")
        return self._read()

    def exchange(self, reply):
        self.proc.stdin.write(json.dumps(reply) + "\n")
        return self._read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()


class InBandLink:
    """The ring's bytes carried in the lockstep messages (MicroPython mode)."""

    path = "MicroPython, in lockstep"

    def __init__(self):
        self.sent = b""
        self.rx = bytearray()

    def take_sent(self):
        out, self.sent = self.sent, b""
        return out

    def deliver(self, data):
        self.rx += data

    def close(self):
        pass


class Simulation:
    """One scenario run. ``run()`` returns True when every expectation held.

    After the run: ``trace`` (list of dicts), ``failures`` (list of str),
    ``events`` (printed output-change lines), ``app`` (the firmware ``Bms``).
    """

    def __init__(self, sc, trace_path=None, link="pty", echo=print, live=False, interpreter="cpython"):
        self.sc = sc
        self.interpreter = interpreter
        self.trace_path = trace_path
        self.link_kind = link
        self.echo = echo or (lambda *a: None)
        self.live = live
        self.trace = []
        self.failures = []
        self.events = []
        self.rng = random.Random(sc.get("bank", {}).get("seed", 1) + 1000)

    # ----- set-up ---------------------------------------------------------
    def _setup(self):
        sc = self.sc
        board_file = host_tools.board_path(sc.get("board", DEFAULT_BOARD))
        with open(board_file) as f:
            chip = json.load(f)["chip"]
        self.clock = VirtualClock(sc.get("start_ticks_ms", START_TICKS_MS), self._advance)
        self.pm = host_tools.use_firmware(chip, self.clock)
        import bms as fw_bms
        import board as fw_board
        import codes as fw_codes
        import hw as fw_hw
        import settings as fw_settings
        self.C = fw_codes
        from host_tools.mpy import sim_driver
        self.sim_driver = sim_driver
        self.board = fw_board.load(board_file)
        u = self.board["link_uart"]
        self.baudrate = u["baudrate"]
        self.settings = fw_settings.Settings()
        if sc.get("settings"):
            self.settings.update(sc["settings"])    # checked here in both modes: a bad value stops the run
        self.bank = bank_sim.BankSim(**sc.get("bank", {}))
        self.state = {"load_a": 0.0, "charge_a": 0.0, "charge_v": None, "uncontrolled_a": 0.0, "remote": "loop",
                      "fault": "none", "bit_error_rate": 0.0, "battery": 1}
        self._reply = {}
        self._msg = None
        self._snap_frames = 0
        if self.interpreter == "micropython":
            self.link = InBandLink()
            self.mp = MicroPythonFirmware()
            self.app = None
        else:
            self.link = (PtyLink if self.link_kind == "pty" else MemoryLink)(self.pm, u["id"], u["baudrate"])
            self.mp = None
        self._apply_remote()
        if self.mp is None:
            self.app = fw_bms.Bms(fw_hw.Hardware(self.board), self.settings)
        self.out_pins = {}
        for name, o in self.board["outputs"].items():
            self.out_pins[name] = (o["pin"], o.get("active_high", True))
        self.pending = []         # (due elapsed ms, bytes) responses on their way
        self.sent_cells = {}      # seq -> [(cells, temps)] as encoded, before any corruption
        self._rxbuf = bytearray()
        self._frames_seen = 0
        self._step = 0
        self._step_since_ms = 0
        self._event_seen_ms = None
        self._prev = None
        self._before = None
        self._end_ms = int(sc["duration_s"] * 1000)
        self._finish_ms = None
        self._last_wall = 0.0

    # ----- the world moves while the firmware sleeps ----------------------
    def _out_on(self, name):
        if self.mp is not None:
            return self._msg["outputs"].get(name, False)
        if name not in self.out_pins:
            return False
        pin, active_high = self.out_pins[name]
        return self.pm.level(pin) == (1 if active_high else 0)

    def _set_adc(self, pin, mv):
        if self.mp is not None:
            self._reply.setdefault("adc", {})[str(pin)] = mv
        else:
            self.pm.set_adc_mv(pin, mv)

    def _apply_remote(self):
        v = self.bank.voltage_mv()
        l_mv, h_mv = {"loop": (v / 2, v / 2), "open": (v, 0), "l_low": (0, 0), "h_high": (v, v)}[self.state["remote"]]
        ins = self.board["inputs"]
        self._set_adc(ins["remote_l"]["adc_pin"], int(l_mv * 1000 / ins["remote_l"]["divider_x1000"]))
        self._set_adc(ins["remote_h"]["adc_pin"], int(h_mv * 1000 / ins["remote_h"]["divider_x1000"]))

    def _advance(self, dt_ms):
        t_ms = self.clock.elapsed_ms - dt_ms   # the firmware ticked at this time
        self._observe(t_ms)
        self._run_steps(t_ms)
        s = self.state
        current = s["uncontrolled_a"]
        if self._out_on("charge_disconnect"):
            charge = s["charge_a"]
            if s["charge_v"] is not None:      # a constant-voltage charger tapers
                charge = min(charge, self.bank.cv_limit_a(s["charge_v"]))
            current += charge
        if self._out_on("load_disconnect"):
            current -= s["load_a"]
        self.bank.step(current, dt_ms / 1000.0)
        self.bank.current_a = current
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
            out = self._through_ring(fr)
            if out is None:
                continue
            latency_ms = 1 + len(out) * 10 * 1000 // self.baudrate + len(self.bank.batteries)
            self.pending.append((t_ms + latency_ms, out))

    def _through_ring(self, fr):
        fault = self.state["fault"]
        if fault == "unplug":
            return None
        try:
            ver, ftype, seq, hop, _ = ring.parse(fr)
        except ValueError:
            return None
        out = fr
        snap = []
        if fault != "no_battery":
            skip = self.state["battery"] - 1 if fault == "remove_battery" else -1
            for i, b in enumerate(self.bank.batteries):
                if i == skip:
                    continue
                cells = [int(round(c.voltage_mv())) for c in b.cells]
                temps = [int(round(t * 10)) for t in b.temps_c]
                snap.append((cells, temps))
                out = ring.forward(out, lambda addr, b=b, cells=cells, temps=temps: ring.record(
                    addr, b.serial, int(b.capacity_ah), b.fw_version, sum(cells),
                    int(round(self.bank.reported_current_a(b) * 1000)), b.flags, b.series_pos, cells, temps))
                if out is None:
                    return None
        if fault == "stale":
            out = ring.raw_frame((seq - 1) & 0xFF, ring.parse(out)[3], ring.parse(out)[4])
        self.sent_cells[seq] = snap
        if len(self.sent_cells) > 8:
            del self.sent_cells[min(self.sent_cells, key=lambda k: (k - seq) % 256 or 256)]
        if fault == "bit_errors":
            out = bytearray(out)
            for i in range(len(out) * 8):
                if self.rng.random() < self.state["bit_error_rate"]:
                    out[i // 8] ^= 1 << (i % 8)
            out = bytes(out)
        elif fault == "garbage":
            out = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 40))) + out
        return out

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
                if self._event_seen_ms is None and self._happened(st["until"], t_ms):
                    self._event_seen_ms = t_ms
                ready = self._event_seen_ms is not None and t_ms - self._event_seen_ms >= st.get("delay_s", 0) * 1000
            else:
                ready = True
            if not ready:
                if "timeout_s" in st and waited > st["timeout_s"] * 1000:
                    self.failures.append("step %d (%s) did not happen within %s s" % (
                        self._step + 1, st.get("until", st.get("note", "")), st["timeout_s"]))
                    self._finish_ms = t_ms
                return
            self._apply_step(st, t_ms)
            self._step += 1
            self._step_since_ms = t_ms
            self._event_seen_ms = None
        if self._finish_ms is None and "end_after_s" in self.sc:
            self._finish_ms = t_ms + int(self.sc["end_after_s"] * 1000)

    def _happened(self, until, t_ms):
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

    def _apply_step(self, st, t_ms):
        for key in ("load_a", "charge_a", "charge_v", "uncontrolled_a", "remote", "fault", "bit_error_rate", "battery"):
            if key in st:
                self.state[key] = st[key]
        if "temperature_c" in st:
            self.bank.set_temperature(st["temperature_c"])
        if "settings" in st:
            # The firmware's own settings under CPython; under MicroPython a
            # validating copy, and the change goes on to the firmware below.
            self.settings.update(st["settings"])
        if self.mp is not None:
            for key in ("soft_switch", "settings"):
                if key in st:
                    self._reply[key] = st[key]
        elif "soft_switch" in st:
            self.app.protection.set_soft_switch(st["soft_switch"])
        if st.get("note"):
            self._say(t_ms, "step: " + st["note"])

    # ----- what the firmware shows ----------------------------------------
    def _snapshot(self):
        if self.mp is not None:
            return self._msg["snap"]
        snap = self.sim_driver.snapshot(self.app, self._snap_frames)
        self._snap_frames = self.app.link.frames_ok
        return snap

    def _record(self, t_ms, snap):
        v = lambda x, scale: None if x is None else x / scale
        return {
            "t_s": round(t_ms / 1000.0, 3),
            "bank_v": v(snap["bank_mv"], 1000.0),
            "current_a": v(snap["current_ma"], 1000.0),
            "cell_min_v": v(snap["cell_min_mv"], 1000.0),
            "cell_max_v": v(snap["cell_max_mv"], 1000.0),
            "temp_min_c": v(snap["temp_min_dc"], 10.0),
            "temp_max_c": v(snap["temp_max_dc"], 10.0),
            "batteries": snap["batteries"],
            "series": snap["series"],
            "parallel": snap["parallel"],
            "system_v": snap["system_v"],
            "atc": snap["atc"],
            "atd": snap["atd"],
            "pre_alarm": snap["pre_alarm"],
            "pre_alarm_out": snap["pre_alarm_out"],
            "remote_on": snap["remote_on"],
            "codes": snap["codes"],
            "atc_reasons": snap["atc_reasons"],
            "atd_reasons": snap["atd_reasons"],
            "soc_pct": None if snap["soc_pct10"] < 0 else snap["soc_pct10"] / 10.0,
            "consumed_ah": None if snap["soc_pct10"] < 0 else snap["consumed_mah"] / 1000.0,
            "ttg_min": None if snap["ttg_min"] < 0 else snap["ttg_min"],
            "balancer": snap["balancer"],
            "synchronisations": snap["syncs"],
            "link_frames_ok": snap["frames_ok"],
            "link_rejected": snap["rejected"],
            "sim_soc_pct": round(self.bank.soc_pct(), 3),
        }

    def _observe(self, t_ms):
        snap = self._snapshot()
        self._last_snap = snap
        rec = self._record(t_ms, snap)
        self._check_integrity(t_ms, snap)
        prev = self._prev
        keys = ("atc", "atd", "pre_alarm", "pre_alarm_out", "remote_on", "codes", "batteries", "balancer")
        changed = prev is None or any(rec[k] != prev[k] for k in keys)
        if changed or t_ms % SAMPLE_MS == 0:
            self.trace.append(rec)
            if self._trace_file:
                self._trace_file.write(json.dumps(rec) + "\n")
        if changed:
            self._report_changes(prev, rec)
        self._before, self._prev = self._prev, rec
        if self.live:
            self._refresh_live(rec)

    def _check_integrity(self, t_ms, snap):
        if "cells" not in snap:
            return
        sent = self.sent_cells.get(snap["seq"])
        if sent is None or len(sent) != len(snap["cells"]):
            self.failures.append("at %.1f s the firmware accepted a reading the ring did not send" % (t_ms / 1000))
            return
        for i, (cells, temps) in enumerate(sent):
            if snap["cells"][i] != cells or snap["temps"][i] != temps:
                self.failures.append("at %.1f s battery %d: firmware holds cells %s temps %s, ring sent %s %s"
                                     % (t_ms / 1000, i + 1, snap["cells"][i], snap["temps"][i], cells, temps))

    def _say(self, t_ms, text):
        line = "%9.1f s  %s" % (t_ms / 1000.0, text)
        self.events.append(line)
        if self._live_obj is not None:
            self._live_obj.console.print(line, markup=False, highlight=False)
        else:
            self.echo(line)

    def _report_changes(self, prev, rec):
        t_ms = int(rec["t_s"] * 1000)
        C = self.C
        for field, name, why_key in (("atd", "ATD (load disconnect)", "atd_reasons"),
                                     ("atc", "ATC (charge disconnect)", "atc_reasons"),
                                     ("pre_alarm", "pre-alarm", None),
                                     ("remote_on", "remote", None)):
            if prev is not None and rec[field] == prev[field]:
                continue
            state = ("on" if rec[field] else "off") if why_key is None else ("allowed" if rec[field] else "WITHDRAWN")
            why = rec[why_key] if why_key else [c for c in rec["codes"] if C.drives_pre_alarm(C.code_id(c))]
            detail = ", ".join("%s %s" % (w, C.meaning(C.code_id(w))) if w[1:2] == "-" else w for w in why)
            self._say(t_ms, "%-24s %-9s %s" % (name, state, ("(" + detail + ")") if detail else ""))
        old = set(prev["codes"]) if prev else set()
        for c in rec["codes"]:
            if c not in old:
                self._say(t_ms, "code %s raised: %s" % (c, C.meaning(C.code_id(c))))
        for c in sorted(old - set(rec["codes"])):
            self._say(t_ms, "code %s cleared" % c)

    # ----- live table -----------------------------------------------------
    _live_obj = None

    def _table(self, rec):
        from rich.table import Table
        t = Table(title="%s  (link %s)" % (self.sc["name"], self.link.path), expand=False)
        for col in ("t", "bank V", "I A", "SoC", "SoC*", "cell min..max V", "T C", "ATC", "ATD", "pre-alarm", "remote", "codes"):
            t.add_column(col)
        fmt = lambda v, f: "-" if v is None else f % v
        t.add_row(fmt(rec["t_s"], "%.0f s"), fmt(rec["bank_v"], "%.2f"), fmt(rec["current_a"], "%.1f"),
                  "unknown" if rec["soc_pct"] is None else "%.1f %%" % rec["soc_pct"],
                  "%.1f %%" % rec["sim_soc_pct"],
                  "-" if rec["cell_min_v"] is None else "%.3f..%.3f" % (rec["cell_min_v"], rec["cell_max_v"]),
                  fmt(rec["temp_min_c"], "%.1f"), "yes" if rec["atc"] else "NO", "yes" if rec["atd"] else "NO",
                  "ON" if rec["pre_alarm"] else "off", "on" if rec["remote_on"] else "OFF",
                  " ".join(rec["codes"]) or "-")
        t.caption = "SoC: the firmware's battery monitor; SoC*: the simulator's truth"
        return t

    def _refresh_live(self, rec):
        now = time.monotonic()
        if now - self._last_wall >= 0.2 and self._live_obj is not None:
            self._last_wall = now
            self._live_obj.update(self._table(rec))

    # ----- run --------------------------------------------------------------
    def _keep_going(self):
        t = self.clock.elapsed_ms
        if self._finish_ms is not None and t >= self._finish_ms:
            return False
        return t < self._end_ms

    def run(self):
        self._trace_file = None
        self._setup()
        import main as fw_main
        if self.trace_path:
            os.makedirs(os.path.dirname(os.path.abspath(self.trace_path)), exist_ok=True)
            self._trace_file = open(self.trace_path, "w")
        live_ctx = None
        try:
            if self.live:
                from rich.live import Live
                live_ctx = Live(self._table(self._record(0, self._empty_snap())), refresh_per_second=5)
                self._live_obj = live_ctx.__enter__()
            if self.mp is None:
                fw_main.run(self.app, self.clock, self._keep_going)
            else:
                self._run_micropython()
            self._observe(self.clock.elapsed_ms)   # the state after the last tick
        finally:
            if live_ctx is not None:
                live_ctx.update(self._table(self.trace[-1]))
                live_ctx.__exit__(None, None, None)
                self._live_obj = None
            if self._trace_file:
                self._trace_file.close()
            self.link.close()
            if self.mp is not None:
                self.mp.close()
        if self._step < len(self.sc["step"]):
            self.failures.append("the scenario ended (duration_s %s) before step %d ran"
                                 % (self.sc["duration_s"], self._step + 1))
        snap = self._last_snap
        errors = {name: snap["errors"][i] for i, name in enumerate(self._error_names())}
        errors["frames_ok"] = snap["frames_ok"]
        self.link_errors = errors
        self.failures += scen.evaluate(self.sc, self.trace, errors)
        return not self.failures

    def _empty_snap(self):
        keys = ("bank_mv", "current_ma", "cell_min_mv", "cell_max_mv", "temp_min_dc", "temp_max_dc",
                "series", "parallel", "system_v")
        snap = dict.fromkeys(keys)
        snap.update(batteries=0, atc=False, atd=False, pre_alarm=False, pre_alarm_out=False, remote_on=False,
                    codes=[], atc_reasons=[], atd_reasons=[], frames_ok=0, rejected=0, soc_pct10=-1,
                    consumed_mah=0, ttg_min=-1, balancer="unknown", syncs=0)
        return snap

    def _run_micropython(self):
        """Lockstep: the firmware's main.run inside MicroPython sends a message from
        each sleep; the world advances here, and the reply carries it back."""
        config = {"board": self.board, "settings": self.sc.get("settings", {}),
                  "start_ticks": self.clock.ticks_ms(), "adc": self._reply.pop("adc", {})}
        self._msg = self.mp.start(config)
        while True:
            self.link.sent = bytes.fromhex(self._msg["sent"])
            self._reply = {}
            self.clock.advance(self._msg["sleep_ms"])      # calls _advance: the world moves
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

    def _error_names(self):
        import link as fw_link
        return fw_link.ERROR_NAMES


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.sim", description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", help="scenario TOML file (docs/scenarios.md)")
    ap.add_argument("--trace", help="write the JSONL trace here (docs/trace.md)")
    ap.add_argument("--link", choices=("pty", "memory"), default="pty",
                    help="serve the ring over a pseudo-terminal (default) or in memory")
    ap.add_argument("--interpreter", choices=("cpython", "micropython"), default="cpython",
                    help="run the firmware under CPython (default) or inside MicroPython 1.27 (WebAssembly)")
    ap.add_argument("--live", choices=("auto", "yes", "no"), default="auto",
                    help="live status table (default: when stdout is a terminal)")
    args = ap.parse_args(argv)
    try:
        sc = scen.load(args.scenario)
    except (OSError, scen.ScenarioError) as e:
        print("scenario error: %s" % e, file=sys.stderr)
        return 2
    live = sys.stdout.isatty() if args.live == "auto" else args.live == "yes"
    sim = Simulation(sc, trace_path=args.trace, link=args.link, live=live, interpreter=args.interpreter)
    wall = time.monotonic()
    ok = sim.run()
    wall = time.monotonic() - wall
    print()
    if sim.app is not None:
        import diag
        diag.status(sim.app)
        print()
    print("simulated %.0f s in %.1f s of wall time; %d trace records%s" % (
        sim.clock.elapsed_ms / 1000, wall, len(sim.trace), (" -> " + args.trace) if args.trace else ""))
    for f in sim.failures:
        print("FAILED: " + f)
    print("scenario %s: %s" % (sc["name"], "PASSED" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
