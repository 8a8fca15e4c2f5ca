"""Portable: the diagnosis core (qualifier, detectors, diagnosis, decide, link
health, inputs) on both interpreters, integers only."""
import bank as B
import codes as C
from decide import decide
from detect import Detectors, Observation
from diagnosis import Diagnosis
from inputs import Current, Remote
from link_health import LinkHealth
from qualifier import BAND, CLEAR, HARD, TRIP, Qualifier
from settings import Settings
from status import Status


def bank_with(cell_mv=3300, temp_dc=200, n=1, flags=0):
    b = B.Bank()
    b.count = n
    for i in range(n):
        b.series_pos[i] = 1
        b.n_cells[i] = 4
        b.n_temps[i] = 1
        b.serial_hash[i] = 1000 + i
        b.capacity_ah[i] = 100
        for k in range(4):
            b.cell_mv[i * B.MAX_CELLS + k] = 3300
        b.cell_mv[i * B.MAX_CELLS + 1] = cell_mv
        b.temp_dc[i * B.MAX_TEMPS] = temp_dc
        b.voltage_mv[i] = 9900 + cell_mv
        b.flags[i] = flags
    b.compute_aggregates()
    return b


class Core:
    """Diagnosis + decide on observations; ``t`` in ms."""

    def __init__(self, settings=None):
        self.s = settings or Settings()
        self.d = Diagnosis(self.s)
        self.o = Observation()
        self.st = Status()
        self.st.active = self.d.active
        self.t = 0

    def tick(self, dt=100, bank=None, at_once=False, stale=False, link_state=CLEAR, current_ma=None):
        self.t += dt
        o = self.o
        if bank is not None:
            o.bank = bank
        o.fresh = bank is not None
        o.at_once = at_once
        o.stale = stale
        o.complete = True
        o.link_state = link_state
        o.link_alarm_state = TRIP if link_state == TRIP else CLEAR   # as link_health sets it
        o.current_known = current_ma is not None
        o.current_ma = 0 if current_ma is None else current_ma
        self.d.update(dt, o)
        decide(self.st, self.d.active, False, True, False)

    def run(self, ms, **kw):
        end = self.t + ms
        while self.t < end:
            self.tick(100, **kw)


def started():
    c = Core()
    c.tick(0, bank_with(), at_once=True)
    c.run(1000)
    return c


def test_fast_sag_waits_for_the_30_s_lead():
    c = started()
    c.tick(100, bank_with(2700))                # t0
    c.run(30900)
    assert c.st.atd and c.d.pre_alarm and c.d.active[C.W_B01]
    c.tick(100)                                 # t0 + 31 s: W-B01 at t0 + 1 s, then 30 s
    assert not c.st.atd and c.d.active[C.A_B01]
    assert c.st.reason_list(C.PORT_ATD) == ["A-B01"] and c.st.atc


def test_hard_limits_act_on_one_reading():
    s = Settings()
    s.update({"cell_ov_hard_v": 3.9, "cell_uv_hard_v": 2.5})
    c = Core(s)
    c.tick(0, bank_with(), at_once=True)
    c.run(1000)
    c.tick(100, bank_with(3901))
    assert not c.st.atc and c.st.reason_list(C.PORT_ATC) == ["A-B02"] and c.st.atd
    c = Core(s)
    c.tick(0, bank_with(), at_once=True)
    c.run(1000)
    c.tick(100, bank_with(2499))                # pre-alarm at once, ATD after the lead
    assert c.d.pre_alarm and c.st.atd
    c.run(29900)
    assert c.st.atd
    c.tick(100)
    assert not c.st.atd


def test_a_chopped_cold_sensor_trips():
    c = started()
    n = 0
    while c.st.atc and n < 300:
        c.tick(100, bank_with(temp_dc=45 if (n // 10) % 5 < 4 else 55) if n % 10 == 0 else None)
        n += 1
    assert n == 65 and c.st.reason_list(C.PORT_ATC) == ["A-B10"]


def test_relaxing_is_not_recharging():
    c = started()
    c.tick(100, bank_with(2700))
    c.run(32000)
    assert not c.st.atd
    c.tick(100, bank_with(3300))
    c.run(60000)
    assert not c.st.atd                         # relaxed, not recharged
    c.run(14900, current_ma=500)
    assert not c.st.atd
    c.tick(100, current_ma=500)
    assert c.st.atd                             # 10 s of charge (100 ticks), then 5 s of clear
    c.tick(100, bank_with(2700))
    c.run(40000)
    assert not c.st.atd
    c.tick(100, bank_with(3300))
    c.d.user_action()
    c.tick(100)
    assert c.st.atd                             # a user action releases it


def test_link_warning_then_alarm():
    c = started()
    c.tick(100, link_state=TRIP)
    assert c.d.active[C.W_B05] and c.st.atd
    c.run(29900, link_state=TRIP)
    assert c.st.atd
    c.tick(100, link_state=TRIP)
    assert not c.st.atd and not c.st.atc and c.st.reason_list(C.PORT_SYS_CHG) == ["A-B05"]
    c.tick(100, link_state=BAND)                # degraded, no longer failing
    assert c.st.atd and c.d.active[C.W_B05]
    c.tick(100, link_state=CLEAR)
    assert not c.d.active[C.W_B05]


def test_a_battery_fault_flag():
    c = started()
    c.tick(100, bank_with(n=2, flags=B.FLAG_FAULT))
    assert c.d.active[C.E_B11] and not c.st.atd and not c.st.atc
    c.tick(100, bank_with(n=2))
    c.run(4900)
    assert c.d.active[C.E_B11]
    c.tick(100)
    assert not c.d.active[C.E_B11] and c.st.atd


def test_qualifier_counts_up_down_and_clears():
    q = Qualifier(1)
    q.step(0, TRIP, 100, 1000, 500, False, False)
    for _ in range(8):
        q.step(0, TRIP, 100, 1000, 500, False, False)
    assert q.count_ms[0] == 800
    q.step(0, BAND, 100, 1000, 500, False, False)
    assert q.count_ms[0] == 775
    assert q.step(0, HARD, 100, 1000, 500, False, False) == 1
    q.set_active(0)
    for _ in range(5):
        q.step(0, CLEAR, 100, 1000, 500, False, False)
    assert q.active[0] == 1
    q.step(0, CLEAR, 100, 1000, 500, False, False)
    assert q.active[0] == 0


class FakeLink:
    def __init__(self):
        self.seq = 0
        self.bank = B.Bank()


def test_link_health_judges_shares_of_polls():
    lh = LinkHealth(Settings())
    link = FakeLink()
    good = bank_with()
    states = []
    for k in range(600):                        # 60 s, a poll a second, one in three lost
        if k % 10 == 0:
            link.seq = (link.seq + 1) & 0xFF
        fresh = k % 10 == 1 and (k // 10) % 3 != 2
        if fresh:
            link.bank = good
        lh.update(100, link, fresh)
        states.append(lh.state)
    assert TRIP not in states and lh.answered_pct() >= 60
    for k in range(300):                        # then nothing: a trip 3 s after the last answer
        if k % 10 == 0:
            link.seq = (link.seq + 1) & 0xFF
        lh.update(100, link, False)
    assert lh.state == TRIP and lh.stale


def test_inputs_debounce_and_hold():
    s = Settings()
    r = Remote(s)
    r.update(0, 6600, 6600, 13300)
    r.update(100, 13300, 0, 13300)
    r.update(100, 13300, 0, 13300)
    assert r.on
    r.update(100, 13300, 0, 13300)
    assert not r.on
    c = Current(s, False)
    b = bank_with()
    b.bank_current_ma = -7000
    c.update(0, b, 0, True)
    c.update(0, b, 10000, False)
    assert c.known and c.ma == -7000
    c.update(0, b, 10001, False)
    assert not c.known


def test_decisions_use_integers_only():
    c = started()
    c.tick(100, bank_with(3050, 215), current_ma=1234)
    c.run(3000, current_ma=1234)
    det = c.d.detectors
    assert isinstance(det, Detectors)
    for arr in (det.trip, det.reset, det.hard, det.delay_ms, det.clear_ms, c.d.q.count_ms, c.st.reasons):
        for v in arr:
            assert type(v) is int
    b = c.o.bank
    for v in (b.cell_min_mv, b.cell_max_mv, b.temp_min_dc, b.bank_mv, b.cell_avg_mv, b.bank_current_ma,
              c.d.pre_ms, c.d.recharge_ms, c.d._lead_ms, c.d._recharge_ma, c.d._recharge_need_ms):
        assert type(v) is int
