"""What a person sees of a run: each change as a line, a live table, the command line.

``python -m host_tools.sim SCENARIO [--trace FILE] [--interpreter micropython]``
runs one scenario (docs/scenarios.md) and exits 0 only if every expectation held.
"""
import argparse
import sys
import time

CHANGES = (("atd", "ATD (load disconnect)", "atd_reasons"),
           ("atc", "ATC (charge disconnect)", "atc_reasons"),
           ("pre_alarm", "pre-alarm", None),
           ("remote_on", "remote", None))


def _f(v, fmt, none="-"):
    return none if v is None else fmt % v


def live_lines(rec):
    """The live view of one trace record as ``(label, text)`` rows, each short
    enough for an 80-column terminal: what the firmware believes, the truth
    (marked "true") beside it."""
    soc = "unknown" if rec["soc_pct"] is None else "%.1f %%" % rec["soc_pct"]
    rows = [
        ("bank", "%s V  %s A  SoC %s (true %.1f %%)" % (_f(rec["bank_v"], "%.2f"), _f(rec["current_a"], "%+.1f"),
                                                      soc, rec["sim_soc_pct"])),
        ("cells", "%s V (true %.3f..%.3f)  %s °C" % (
            "-" if rec["cell_min_v"] is None else "%.3f..%.3f" % (rec["cell_min_v"], rec["cell_max_v"]),
            rec["sim_cell_min_v"], rec["sim_cell_max_v"], _f(rec["temp_min_c"], "%.1f"))),
        ("outputs", "ATC %s  ATD %s  pre-alarm %s  remote %s" % (
            "yes" if rec["atc"] else "NO", "yes" if rec["atd"] else "NO", "ON" if rec["pre_alarm"] else "off",
            "on" if rec["remote_on"] else "OFF")),
    ]
    ports = []
    if rec.get("alternator_on") or rec.get("alternator_reasons") != ["startup"] and rec.get("alternator_state") != "off":
        ports.append("alternator %s" % ("%.1f/%.0f A" % (rec["alternator_a"], rec["alternator_limit_a"])
                                        if rec["alternator_on"] else rec["alternator_state"]))
    if rec.get("system_state") not in (None, "open") or rec.get("system_discharge"):
        ports.append("System+ %s" % rec["system_state"])
    for key, name in (("contactor", "contactor"), ("aux_output", "aux")):
        if rec.get(key) is not None:
            ports.append("%s %s" % (name, "on" if rec[key] else "off"))
    if ports:
        rows.append(("ports", "  ".join(ports)))
    codes = " ".join(rec["codes"]) or "none"
    rows.append(("link", "%d %% answered  codes: %s" % (rec["link_answered_pct"], codes)))
    return rows


def live_panel(title, rec, duration_s=None, width=80):
    """A rich renderable of ``live_lines`` with the run's progress, for a live view."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    for label, text in live_lines(rec):
        t.add_row(label, text)
    parts = [t]
    head = "%.0f s" % rec["t_s"]
    if duration_s:
        head += " of %.0f s" % duration_s
        parts.append(ProgressBar(total=duration_s, completed=min(rec["t_s"], duration_s), width=width - 8))
    return Panel(Group(*parts), title="%s  %s" % (title, head), title_align="left", width=width,
                 subtitle="true = the simulator's truth", subtitle_align="right")


class Console:
    """Prints change lines (kept in ``events``) and, when ``live``, a rich table."""

    def __init__(self, title, echo=print, live=False, duration_s=None):
        self.title = title
        self.duration_s = duration_s
        self.echo = echo or (lambda *a: None)
        self.live = live
        self.events = []
        self._live = None
        self._ctx = None
        self._last_wall = 0.0

    def start(self, first_rec):
        if self.live:
            from rich.live import Live
            self._ctx = Live(self._table(first_rec), refresh_per_second=5)
            self._live = self._ctx.__enter__()

    def stop(self, last_rec):
        if self._ctx is not None:
            self._ctx.update(self._table(last_rec))
            self._ctx.__exit__(None, None, None)
            self._ctx = self._live = None

    def say(self, t_ms, text):
        line = "%9.1f s  %s" % (t_ms / 1000.0, text)
        self.events.append(line)
        if self._live is not None:
            self._live.console.print(line, markup=False, highlight=False)
        else:
            self.echo(line)

    def changes(self, prev, rec, C):
        """Say what changed between two trace records, with the codes' meanings."""
        t_ms = int(round(rec["t_s"] * 1000))
        for field, name, why_key in CHANGES:
            if prev is not None and rec[field] == prev[field]:
                continue
            state = ("on" if rec[field] else "off") if why_key is None else ("allowed" if rec[field] else "WITHDRAWN")
            why = rec[why_key] if why_key else [c for c in rec["codes"] if C.drives_pre_alarm(C.code_id(c))]
            detail = ", ".join("%s %s" % (w, C.meaning(C.code_id(w))) if w[1:2] == "-" else w for w in why)
            self.say(t_ms, "%-24s %-9s %s" % (name, state, ("(" + detail + ")") if detail else ""))
        if prev is not None:
            self._power_changes(t_ms, prev, rec)
        old = set(prev["codes"]) if prev else set()
        for c in rec["codes"]:
            if c not in old:
                self.say(t_ms, "code %s raised: %s" % (c, C.meaning(C.code_id(c))))
        for c in sorted(old - set(rec["codes"])):
            self.say(t_ms, "code %s cleared" % c)

    def _power_changes(self, t_ms, prev, rec):
        # The alternator port closing and opening, its limit's reason while it
        # conducts, and System+ tripping and coming back (not its every pre-charge).
        if rec["alternator_on"] != prev["alternator_on"]:
            if rec["alternator_on"]:
                self.say(t_ms, "%-24s %-9s (limit %.1f A: %s)" % ("alternator port", "charging",
                                                               rec["alternator_limit_a"], rec["alternator_limit_why"]))
            else:
                self.say(t_ms, "%-24s %-9s (%s)" % ("alternator port", "opens", rec["alternator_state"]))
        elif rec["alternator_on"] and rec["alternator_limit_why"] != prev["alternator_limit_why"]:
            self.say(t_ms, "%-24s %-9s (%s)" % ("alternator limit", "%.1f A" % rec["alternator_limit_a"],
                                               rec["alternator_limit_why"]))
        for field, name in (("contactor", "contactor"), ("aux_output", "aux output"),
                            ("alternator_atc", "alternator ATC")):
            if rec.get(field) is not None and rec[field] != prev.get(field):
                self.say(t_ms, "%-24s %s" % (name, "closed" if field == "contactor" and rec[field] else
                                              ("opens" if field == "contactor" else ("on" if rec[field] else "off"))))
        trip = ("tripped", "locked")
        if rec["system_state"] != prev["system_state"] and (rec["system_state"] in trip or prev["system_state"] in trip):
            self.say(t_ms, "%-24s %s" % ("System+", rec["system_state"]))

    def refresh(self, rec):
        now = time.monotonic()
        if self._live is not None and now - self._last_wall >= 0.2:
            self._last_wall = now
            self._live.update(self._table(rec))

    def _table(self, rec):
        return live_panel(self.title, rec, self.duration_s)


def main(argv=None):
    from host_tools import scenario as scen
    from host_tools.sim.runner import Simulation
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
    except scen.ScenarioError as e:
        msg = str(e)
        if not msg.startswith(args.scenario):
            msg = "%s: %s" % (args.scenario, msg)
        print("scenario error: %s" % msg, file=sys.stderr)
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
