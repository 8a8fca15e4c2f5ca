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


def bank_with(cell_mv=3300, temp_dc=200, n=1, flags=0, series=False, low_at=0):
    """``n`` batteries of 4 cells (in series if ``series``), battery ``low_at``'s
    second cell at ``cell_mv`` (every battery's if ``low_at`` is None)."""
    b = B.Bank()
    b.count = n
    for i in range(n):
        b.series_pos[i] = i + 1 if series else 1
        b.n_cells[i] = 4
        b.n_temps[i] = 1
        b.serial_hash[i] = 1000 + i
        b.capacity_ah[i] = 100
        for k in range(4):
            b.cell_mv[i * B.MAX_CELLS + k] = 3300
        if low_at is None or low_at == i:
            b.cell_mv[i * B.MAX_CELLS + 1] = cell_mv
        b.temp_dc[i * B.MAX_TEMPS] = temp_dc
        b.voltage_mv[i] = 9900 + b.cell_mv[i * B.MAX_CELLS + 1]
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

    def tick(self, dt=100, bank=None, at_once=False, stale=False, link_state=CLEAR, current_ma=None,
             capacity_ah=0, new=None):
        self.t += dt
        o = self.o
        if bank is not None:
            o.bank = bank
        o.fresh = bank is not None
        o.at_once = at_once
        o.at_once_new = new is not None          # as link_health: ``new`` flags, the bank's sel_*
        if new is not None:
            o.bank.extremes_of(bytearray(new))
        o.capacity_ah = capacity_ah
        o.stale = stale
        o.complete = True
        o.link_state = link_state
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
    c.run(22900, current_ma=20000)
    assert not c.st.atd and c.d.recharged and c.d.recharge_mah == 100
    c.tick(100, current_ma=20000)
    assert c.st.atd                             # 100 mAh at 20 A (180 ticks), then 5 s of clear
    c.tick(100, bank_with(2700))
    c.run(40000)
    assert not c.st.atd
    c.tick(100, bank_with(3300))
    c.d.user_action()
    c.tick(100)
    assert c.st.atd                             # a user action releases it


def test_recharge_is_an_amount_of_the_capacity():
    c = started()
    c.tick(100, bank_with(2700))
    c.run(32000)
    c.tick(100, bank_with(3300))
    c.run(61000)
    assert not c.st.atd and c.st.active_codes() == ["A-B01"]
    c.run(179900, current_ma=20000, capacity_ah=100)      # 1 % of 100 Ah: 1000 mAh, 180 s at 20 A
    assert not c.d.recharged and c.d.recharge_mah == 999
    c.tick(100, current_ma=20000, capacity_ah=100)
    assert c.d.recharged and c.d.recharge_mah == 1000 and not c.st.atd
    c.run(5000, current_ma=20000, capacity_ah=100)
    assert c.st.atd


def test_an_offset_below_the_amount_never_recharges():
    c = started()
    c.tick(100, bank_with(2700))
    c.run(32000)
    c.tick(100, bank_with(3300))
    c.run(61000)
    c.run(590000, current_ma=600, capacity_ah=100)       # 0.6 A for 10 minutes: 98 mAh
    assert not c.st.atd and not c.d.recharged and c.d.recharge_mah == 98
    assert c.d._recharge_rem == 600 * 590000 - 98 * 3600000


def test_the_pre_alarm_holds_through_a_chopped_sag():
    c = started()
    on = []
    for k in range(600):                        # 2 s at 2.7 V, 3 s at 3.25 V, a reading a second
        c.tick(100, bank_with(2700 if (k // 10) % 5 < 2 else 3250) if k % 10 == 0 else None)
        on.append(c.d.pre_alarm)
        if not c.st.atd:
            break
    assert on.index(True) == 10 and False not in on[10:]
    assert k == 310                             # 1.1 s after the first sag tick, then exactly 30 s


def test_a_battery_back_is_judged_alone():
    c = Core()
    c.tick(0, bank_with(n=2), at_once=True)
    c.run(1000)
    c.tick(100, bank_with(2700, n=2, low_at=0))          # battery 1 sags: t0
    c.run(5900)
    c.tick(100, bank_with(2700, n=1, low_at=0))          # battery 2 misses a poll
    c.run(900)
    c.tick(100, bank_with(2700, n=2, low_at=0), new=(0, 1))
    assert c.st.atd and c.d.pre_alarm
    c.run(23900)
    assert c.st.atd
    c.tick(100)
    assert not c.st.atd                          # t0 + 31 s: the lead was kept
    c = Core()
    c.tick(0, bank_with(n=2), at_once=True)
    c.run(1000)
    c.tick(100, bank_with(n=1))
    c.run(900)
    c.tick(100, bank_with(2700, n=2, low_at=1), new=(0, 1))
    assert not c.st.atd and c.d.active[C.A_B01]          # its own cell: at once


def test_e_b09_judges_the_nominal_voltage():
    c = started()
    sag = bank_with()
    for k in range(4):
        sag.cell_mv[k] = 2000                   # a 12 V bank sagging to 8 V under a load
    sag.voltage_mv[0] = 8000
    sag.compute_aggregates()
    assert sag.bank_mv == 8000
    c.tick(100, sag)
    c.run(5000)
    assert not c.d.active[C.E_B09]
    c = Core()
    c.tick(0, bank_with(n=5, series=True), at_once=True)
    assert c.d.active[C.E_B09] and not c.st.atd and not c.st.atc


def test_link_warning_then_alarm():
    c = started()
    c.tick(100, link_state=TRIP)
    assert c.d.active[C.W_B05] and c.st.atd
    c.run(29900, link_state=TRIP)
    assert c.st.atd
    c.tick(100, link_state=TRIP)
    assert not c.st.atd and not c.st.atc and c.st.reason_list(C.PORT_SYS_CHG) == ["A-B05"]
    c.tick(100, link_state=BAND)                # degraded, no longer failing: held
    assert not c.st.atd and c.d.active[C.W_B05]
    c.tick(100, link_state=CLEAR)               # healthy: A-B05 goes
    assert c.st.atd and c.d.active[C.W_B05]
    c.run(30000, link_state=CLEAR)              # W-B05 after link_warn_hold_s
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


def test_link_health_marks_the_batteries_the_previous_reading_lacked():
    lh = LinkHealth(Settings())
    link = FakeLink()
    three = bank_with(2900, n=3, low_at=2)
    link.bank = three
    lh.update(100, link, True)
    assert lh.at_once and not lh.at_once_new
    two = bank_with(n=2)
    two.serial_hash[1] = 1002                    # the middle battery is missing
    two.cell_mv[B.MAX_CELLS + 1] = 2900
    two.compute_aggregates()
    link.bank = two
    lh.update(100, link, True)
    assert not lh.at_once and not lh.at_once_new
    link.bank = three
    lh.update(100, link, True)
    assert not lh.at_once_new                    # back within 3 s: it was watched
    link.bank = two
    lh.update(100, link, True)
    lh.update(4000, link, False)                 # then no complete reading for 4 s
    link.bank = three
    lh.update(100, link, True)
    assert lh.at_once_new and not lh.at_once and list(lh.new[:3]) == [0, 1, 0]
    assert three.cell_min_mv == 2900 and three.sel_cell_min_mv == 3300 and three.sel_cell_max_mv == 3300
    lh.update(100, link, False)
    assert not lh.at_once_new


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
    b.extremes_of(bytearray(1))
    for v in (b.sel_cell_min_mv, b.sel_cell_max_mv, b.sel_temp_min_dc, b.sel_temp_max_dc):
        assert type(v) is int
    for v in (b.cell_min_mv, b.cell_max_mv, b.temp_min_dc, b.bank_mv, b.cell_avg_mv, b.bank_current_ma,
              c.d.pre_ms, c.d.recharge_mah, c.d._recharge_rem, c.d._lead_ms, c.d._recharge_pct10,
              c.d._recharge_pct10):
        assert type(v) is int
