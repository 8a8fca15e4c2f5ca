"""Diagnosis and decide driven with hand-made observations, one tick at a time.

``Drive`` is the core of ``bms.Bms.tick`` without the link, inputs and outputs:
the test says what the tick's facts are (``detect.Observation``) and reads the
active codes, the pre-alarm and each port's permission and reasons.
"""
import host_tools

host_tools.use_firmware()
import codes as C  # noqa: E402
from decide import decide  # noqa: E402
from detect import Observation  # noqa: E402
from diagnosis import Diagnosis  # noqa: E402
from qualifier import CLEAR  # noqa: E402
from settings import Settings  # noqa: E402
from status import Status  # noqa: E402

POLL_MS = 1000


class Drive:
    """``t``: ms of the last tick. ``bank``: the latest reading (kept across ticks,
    as the link keeps it); a tick is ``fresh`` when ``t`` is a multiple of
    ``POLL_MS`` (a reading a second; the real link reads up to 10 times a second,
    and diagnosis takes whatever arrives), unless told otherwise."""

    def __init__(self, **overrides):
        self.s = Settings()
        if overrides:
            self.s.update(overrides)
        self.d = Diagnosis(self.s)
        self.o = Observation()
        self.st = Status()
        self.st.active = self.d.active
        self.t = 0
        self.startup = True
        self.remote_on = True
        self.all_off = False
        self.bank = None
        self.capacity_ah = 0      # the monitor's capacity (0: unknown); per tick: capacity_ah=

    @property
    def active(self):
        return self.d.active

    def tick(self, dt=100, bank=None, fresh=None, stale=False, complete=True, at_once=False,
             link_state=CLEAR, new=None, **fields):
        """One tick of ``dt`` ms. ``bank``: a new reading (kept for later ticks).
        ``new``: flags per battery of ``bank`` (1: the previous reading lacked it),
        as link_health marks them: sets ``at_once_new`` and the bank's ``sel_*``."""
        self.t += dt
        if bank is not None:
            self.bank = bank
        o = self.o
        o.bank = self.bank
        o.fresh = (bank is not None or self.t % POLL_MS == 0) if fresh is None else fresh
        o.fresh = o.fresh and self.bank is not None
        o.stale = stale
        o.complete = complete
        o.at_once = at_once
        o.at_once_new = new is not None
        if new is not None:
            self.bank.extremes_of(bytearray(new))
        o.link_state = link_state
        o.no_battery = fields.pop("no_battery", False)
        o.soc_pct10 = fields.pop("soc_pct10", -1)
        ma = fields.pop("current_ma", None)
        o.current_ma = 0 if ma is None else ma
        o.current_known = fields.pop("current_known", ma is not None)
        o.capacity_ah = fields.pop("capacity_ah", self.capacity_ah)
        o.config_bad = fields.pop("config_bad", False)
        o.implausible = fields.pop("implausible", False)
        assert not fields, fields
        self.d.update(dt, o)
        if self.bank is not None:
            self.startup = False
        decide(self.st, self.d.active, self.startup, self.remote_on, self.all_off)
        self.st.pre_alarm = self.d.pre_alarm
        return self

    def first(self, bank, **kw):
        """The first reading since boot: decided at once (link_health's ``at_once``)."""
        return self.tick(0 if self.t == 0 and self.bank is None else 100, bank=bank, at_once=True, **kw)

    def run(self, ms, dt=100, **kw):
        """Tick every ``dt`` for ``ms`` ms; return self."""
        end = self.t + ms
        while self.t + dt <= end:
            self.tick(dt, **kw)
        return self

    def run_until(self, pred, limit_ms, dt=100, **kw):
        """Tick until ``pred(self)``; return the ms it took (from the call), or None."""
        start = self.t
        while self.t - start < limit_ms:
            self.tick(dt, **kw)
            if pred(self):
                return self.t - start
        return None

    # ----- what the tick decided -------------------------------------------
    def on(self, code):
        return self.d.active[C.code_id(code)] == 1

    def codes(self):
        return self.st.active_codes()

    @property
    def atc(self):
        return self.st.atc

    @property
    def atd(self):
        return self.st.atd

    def allowed(self, port):
        return self.st.allowed[port] == 1

    def reasons(self, port):
        return self.st.reason_list(port)


def check_reasons(status, active, startup, remote_on, all_off):
    """Every withdrawn port has a reason, every allowed one none, and the reasons
    are exactly the active codes that withdraw it plus startup / remote-off."""
    for p in range(C.N_PORTS):
        want = 0
        for c in range(C.N_CODES):
            if active[c] and C.withdraws(c) & (1 << p):
                want |= 1 << c
        if startup:
            want |= C.BIT_STARTUP
        if not remote_on and (all_off or p not in (C.PORT_ATC, C.PORT_ATD)):
            want |= C.BIT_REMOTE_OFF
        assert status.reasons[p] == want, (p, status.reason_list(p))
        assert status.allowed[p] == (1 if want == 0 else 0)
        assert bool(status.reason_list(p)) != bool(status.allowed[p])
