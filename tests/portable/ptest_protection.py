"""Portable: protection timing on both interpreters, integers only."""
import bank as B
import codes as C
from protection import Protection
from settings import Settings


def bank_with(cell_mv=3300, temp_dc=200, n=1):
    b = B.Bank()
    b.count = n
    for i in range(n):
        b.series_pos[i] = 1
        b.n_cells[i] = 4
        b.n_temps[i] = 1
        for k in range(4):
            b.cell_mv[i * B.MAX_CELLS + k] = 3300
        b.cell_mv[i * B.MAX_CELLS + 1] = cell_mv
        b.temp_dc[i * B.MAX_TEMPS] = temp_dc
        b.voltage_mv[i] = 9900 + cell_mv
    b.compute_aggregates()
    return b


def run(p, bank, t0, t1, fresh=True, step=100):
    t = t0
    while t <= t1:
        p.update(t & ((1 << 30) - 1), bank, fresh, 6600, 6600)
        t += step


def test_fast_sag_waits_for_the_30_s_lead_across_the_wrap():
    start = (1 << 30) - 10000
    p = Protection(Settings())
    run(p, bank_with(), start, start + 1000)
    low = bank_with(2700)
    run(p, low, start + 1100, start + 2000)            # W-B01 at +2100 (1 s after +1100)
    run(p, low, start + 2100, start + 32000)
    assert p.atd and p.pre_alarm
    run(p, low, start + 32100, start + 32100)
    assert not p.atd and p.active[C.A_B01]
    assert p.reasons(C.WITHDRAW_ATD) == ["A-B01"]


def test_over_voltage_and_cold():
    p = Protection(Settings())
    run(p, bank_with(), 0, 1000)
    run(p, bank_with(3751), 1100, 2000)
    assert p.atc
    run(p, bank_with(3751), 2100, 2100)
    assert not p.atc and p.reasons(C.WITHDRAW_ATC) == ["A-B02"]
    p = Protection(Settings())
    run(p, bank_with(), 0, 1000)
    run(p, bank_with(temp_dc=49), 1100, 6000)
    assert p.atc
    run(p, bank_with(temp_dc=49), 6100, 6100)
    assert not p.atc and p.atd and p.active[C.A_B10]


def test_link_lost_timeline():
    p = Protection(Settings())
    run(p, bank_with(), 0, 1000)
    run(p, bank_with(), 1100, 3900, fresh=False)
    assert not p.active[C.W_B05]
    run(p, bank_with(), 4000, 4000, fresh=False)
    assert p.active[C.W_B05] and p.pre_alarm and p.atd
    run(p, bank_with(), 4100, 34000, fresh=False)
    assert p.active[C.A_B05] and not p.atd and not p.atc


def test_remote_functions():
    s = Settings()
    s.set("remote_function", "all_off")
    p = Protection(s)
    run(p, bank_with(), 0, 1000)
    t = 1100
    while t < 1500:
        p.update(t, bank_with(), True, 13300, 0)
        t += 100
    assert not p.remote_on and not p.atd and p.reasons(C.WITHDRAW_ATD) == [C.REASON_REMOTE_OFF]


def test_decisions_use_integers_only():
    p = Protection(Settings())
    b = bank_with(3050, 215)
    run(p, b, 0, 3000)
    for arr in (p._trip, p._reset, p._delay, p._timer):
        for v in arr:
            assert type(v) is int
    for v in (b.cell_min_mv, b.cell_max_mv, b.temp_min_dc, b.bank_mv, b.bank_current_ma,
              p._lead_ms, p._since_reading_ms, p._warn_need_ms):
        assert type(v) is int
