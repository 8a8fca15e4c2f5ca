"""A whole BMS (``bms.Bms`` on the pin mock, the real link) with a ring of
simulated batteries that answers its polls, for unit tests at the tick level.

Times are ms since the rig's start; the tick counter starts ``start`` ms before
the ``ticks_ms`` wrap (default: it wraps 5 s in). A poll the BMS sends at a tick
is answered before the next tick (by ``host_tools.ring``, the independent
encoder), so a reading arrives one tick after its poll. The link sends its next
poll as soon as the answer is in, but no sooner than ``POLL_MIN_MS`` (100 ms)
after the last one (``firmware/link.py``), so with ticks every 100 ms a poll goes
out at every tick, 0, 100, 200 ..., and every tick from 100 on brings the reading
of the poll one tick before: the bank is read at 10 Hz. A battery changed after
the tick at ``T`` is in the reading at ``T + 200`` (the poll at ``T`` was answered
already, the one at ``T + 100`` carries the change). A poll left unanswered is
given up ``POLL_TIMEOUT_MS`` (1 s) after it went out, when the next goes out: a
ring that stops answering is polled at ``T``, ``T + 1000``, ``T + 2000`` ...

Link health is judged a second at a time (``firmware/link_health.py``), so lossy
links are written in time: ``answer=ByTime(f)``, ``f(ms)`` of the poll's time.
"""
import host_tools
from host_tools import power, ring
from host_tools.vclock import TICKS_PERIOD, VirtualClock

# ADC levels at the remote L / H pins (mV at the pin; the divider is 22.277):
REMOTE = {
    "loop": (300, 300),     # L and H joined: both near half the bank voltage
    "open": (597, 0),       # nothing connected: L pulled up to the bank, H down
    "l_low": (10, 0),       # L to battery minus
    "h_high": (597, 597),   # H to battery plus
}
POLL_LEN = len(ring.poll(0))


class ByTime:
    """``Rig(answer=ByTime(f))``: the ring answers the poll the BMS sent at ``ms``
    (since the rig's start) when ``f(ms)`` is true. An unanswered poll is followed
    by the next one 1 s later (the link's timeout), so ``f`` sees the polls of a
    silent ring a second apart."""

    def __init__(self, f):
        self.f = f


class Battery:
    """One simulated battery; change its fields between ticks. ``present=False``:
    it does not answer (the ring's frame comes back without its record)."""

    def __init__(self, cells=(3300, 3300, 3300, 3300), temps=(200,), spos=1, current_ma=0, flags=0,
                 serial="SN1", capacity_ah=100, present=True):
        self.cells = tuple(cells)
        self.temps = tuple(temps)
        self.spos = spos
        self.current_ma = current_ma
        self.flags = flags
        self.serial = serial
        self.capacity_ah = capacity_ah
        self.present = present

    def record(self, addr):
        return ring.record(addr, self.serial, self.capacity_ah, 0x0104, sum(self.cells), self.current_ma,
                           self.flags, self.spos, list(self.cells), list(self.temps))


class Rig:
    """``Rig(batteries=1, start=5000, board="esp32-devkitc", profile=None, **settings)``.

    ``batteries``: a count (in parallel, serials SN1, SN2, ...) or a list of
    ``Battery``. ``answer``: True, False, ``f(poll_number)`` (1 for the first
    poll) or ``ByTime(f)`` (``f(ms)``, the time the poll was sent) saying whether the
    ring answers that poll. ``remote``: a key of ``REMOTE``.
    """

    def __init__(self, batteries=1, start=5000, board="esp32-devkitc", profile=None, answer=True,
                 remote="loop", settings=None, ble=False, fs=None, **overrides):
        self.clock = VirtualClock(TICKS_PERIOD - start, self._on_sleep)
        self.pm = host_tools.use_firmware("esp32", self.clock)
        import bms
        import board as board_mod
        import hw
        from settings import Settings
        self.s = settings or Settings()
        if overrides:
            self.s.update(overrides)
        self.uart = self.pm.MemoryBackend()
        b = board_mod.load(host_tools.board_path(board))
        self.pm.attach_uart(b["link_uart"]["id"], self.uart)
        self.pins = dict((name, o["pin"]) for name, o in b["outputs"].items())
        if isinstance(batteries, int):
            batteries = [Battery(serial="SN%d" % (i + 1)) for i in range(batteries)]
        self.batteries = batteries
        self.answer = answer
        self.polls = 0
        self.answered = 0
        self.set_remote(remote)
        self.board = b
        self.power = dict(power.ROOM)
        self.fuse_uohm = 450
        self.set_power()
        if profile is None:
            self.app = bms.Bms(hw.Hardware(b), self.s)
        else:
            self.app = bms.Bms(hw.Hardware(b), self.s, None, profile)
        self.st = self.app.status
        self.t = None
        self.radio = None
        if ble:
            # Bluetooth on the host's mock radio, with a seeded random source so
            # a test's key, nonces and session tokens are the same every run.
            import random
            import ble as ble_mod
            import ble_keys
            from host_tools import ble_mock
            ble_mock.reset()
            rnd = random.Random(1234)
            self.urandom = lambda n: bytes(rnd.getrandbits(8) for _ in range(n))
            keys = ble_keys.BleKeys(self.urandom, fs)
            self.radio = ble_mod.Radio(ble_mock, self.app, keys, self.urandom)
            self.app.attach_bluetooth(self.radio, keys)
            self.ble = ble_mock.BLE()

    # ----- the world ------------------------------------------------------
    def set_remote(self, name):
        l_mv, h_mv = REMOTE[name]
        self.pm.set_adc_mv(34, l_mv)
        self.pm.set_adc_mv(35, h_mv)

    def set_power(self, **values):
        """The power ports' sensors (``host_tools.power``): ``alternator_a`` (A),
        ``alternator_v``, ``lithium_v``, ``system_v`` (V), ``alternator_temp``,
        ``bms_temp`` (°C); the others keep their values (at first: engine off,
        13.2 V, 25 °C)."""
        self.power.update(values)
        for pin, mv in power.levels(self.board, self.fuse_uohm, **self.power).items():
            self.pm.set_adc_mv(pin, mv)

    def set_cells(self, *mv, battery=0):
        self.batteries[battery].cells = tuple(mv)

    def set_cell(self, mv, battery=0, index=1):
        """One cell of one battery at ``mv``, the others as they were."""
        c = list(self.batteries[battery].cells)
        c[index] = mv
        self.batteries[battery].cells = tuple(c)

    def serve(self, poll_ms):
        """Answer every poll the BMS has sent since the last call (at the tick at
        ``poll_ms``)."""
        sent = self.uart.take_sent()
        for i in range(0, len(sent) - POLL_LEN + 1, POLL_LEN):
            seq = ring.parse(sent[i:i + POLL_LEN])[2]
            self.polls += 1
            a = self.answer
            if isinstance(a, ByTime):
                ans = a.f(poll_ms)
            else:
                ans = a(self.polls) if callable(a) else a
            if ans:
                self.answered += 1
                recs = [b for b in self.batteries if b.present]
                self.uart.feed(ring.frame(seq, [b.record(k + 1) for k, b in enumerate(recs)]))

    def _on_sleep(self, ms):
        self.serve(self.clock.elapsed_ms - ms)      # the polls of the tick before the sleep

    # ----- time -------------------------------------------------------------
    def at(self, ms):
        """One control tick at ``ms`` after the start; returns the status record."""
        self.clock.elapsed_ms = ms
        self.app.tick(self.clock.ticks_ms())
        self.t = ms
        self.serve(ms)
        self._system_plus()
        return self.st

    def _system_plus(self):
        # System+ with no capacitive load: it is at the lithium voltage as soon as
        # the discharge gate or the pre-charge path conducts (host_tools/sim has
        # the real plant).
        if "system_v" not in self.board.get("analog", {}):
            return
        on = any(self.level(n) == 1 for n in ("system_discharge", "system_precharge") if n in self.pins)
        want = self.power["system_v"] = self.power["lithium_v"] if on else 0.0
        self.pm.set_adc_mv(self.board["analog"]["system_v"]["adc_pin"],
                           power.pin_mv(self.board, "system_v", want))    # that pin alone

    def run(self, to_ms, step=100):
        """Tick every ``step`` ms after the last tick up to ``to_ms`` inclusive."""
        t = 0 if self.t is None else self.t + step
        while t <= to_ms:
            self.at(t)
            t += step
        return self.st

    def run_for(self, ms, step=100):
        return self.run((0 if self.t is None else self.t) + ms, step)

    def until(self, pred, limit_ms, step=100):
        """Tick until ``pred(status)`` holds; return the time, or None after ``limit_ms`` more."""
        end = (0 if self.t is None else self.t) + limit_ms
        while self.t is None or self.t < end:
            self.at(0 if self.t is None else self.t + step)
            if pred(self.st):
                return self.t
        return None

    def level(self, output):
        """The pin level of a board output (``"load_disconnect"``, ...)."""
        return self.pm.level(self.pins[output])

    def transitions(self, output):
        """[(ms since the start, level)] of one output's pin."""
        return [((t - self.clock._start) % TICKS_PERIOD, v) for t, v in self.pm.pin_transitions(self.pins[output])]


def codes(st):
    """The active codes of a status record, as a list of str."""
    return st.active_codes()
