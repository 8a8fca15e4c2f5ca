"""firmware/decide.py: active codes, startup and remote -> each port's reason mask
and permission (a port is allowed exactly when nothing withdraws it)."""
import pytest
from hypothesis import given, settings as hsettings, strategies as st

import host_tools

host_tools.use_firmware()
import codes as C  # noqa: E402
from decide import decide  # noqa: E402
from status import Status  # noqa: E402

PORTS = list(range(C.N_PORTS))
CHARGE_PORTS = [C.PORT_ATC, C.PORT_ALT, C.PORT_SYS_CHG]
DISCHARGE_PORTS = [C.PORT_ATD, C.PORT_SYS_DIS]


def run(codes=(), startup=False, remote_on=True, all_off=False, alt_tripped=False, sys_tripped=False):
    st_ = Status()
    active = bytearray(C.N_CODES)
    for text in codes:
        active[C.code_id(text)] = 1
    decide(st_, active, startup, remote_on, all_off, alt_tripped, sys_tripped)
    return st_


def withdrawn(st_):
    return [p for p in PORTS if not st_.allowed[p]]


def test_nothing_active_allows_every_port():
    s = run()
    assert list(s.allowed) == [1] * C.N_PORTS and list(s.reasons) == [0] * C.N_PORTS
    assert s.atc and s.atd


@pytest.mark.parametrize("cid", range(C.N_CODES), ids=[row[0] for row in C.TABLE])
def test_each_code_withdraws_exactly_its_rows_ports(cid):
    s = run([C.text(cid)])
    for p in PORTS:
        if C.withdraws(cid) & (1 << p):
            assert not s.allowed[p] and s.reasons[p] == 1 << cid
            assert s.reason_list(p) == [C.text(cid)]
        else:
            assert s.allowed[p] and s.reasons[p] == 0


def test_charge_and_discharge_codes_split_the_ports():
    assert withdrawn(run(["A-B02"])) == CHARGE_PORTS
    assert withdrawn(run(["A-B10"])) == CHARGE_PORTS
    assert withdrawn(run(["A-B01"])) == DISCHARGE_PORTS
    assert withdrawn(run(["A-B07"])) == DISCHARGE_PORTS
    assert withdrawn(run(["A-B05"])) == PORTS
    assert withdrawn(run(["W-B01", "W-B05", "W-B07", "E-B31"])) == []


def test_a_b15_opens_the_power_ports_and_keeps_atc_and_atd():
    assert withdrawn(run(["A-B15"])) == [C.PORT_ALT, C.PORT_SYS_CHG, C.PORT_SYS_DIS]


@pytest.mark.parametrize("alt,sys_,ports", [
    (True, False, [C.PORT_ALT]), (False, True, [C.PORT_SYS_CHG, C.PORT_SYS_DIS]),
    (True, True, [C.PORT_ALT, C.PORT_SYS_CHG, C.PORT_SYS_DIS])])
def test_a_a12_withdraws_only_the_port_that_tripped(alt, sys_, ports):
    s = run(["A-A12"], alt_tripped=alt, sys_tripped=sys_)
    assert withdrawn(s) == ports and all(s.reason_list(p) == ["A-A12"] for p in ports)
    assert withdrawn(run(["A-A12"])) == []           # the code alone withdraws nothing


def test_a_trip_is_listed_with_the_other_reasons():
    s = run(["A-B02"], remote_on=False, sys_tripped=True)
    assert s.reason_list(C.PORT_SYS_CHG) == ["A-B02", "A-A12", C.REASON_REMOTE_OFF]
    assert s.reason_list(C.PORT_SYS_DIS) == ["A-A12", C.REASON_REMOTE_OFF]


def test_startup_withdraws_every_port():
    s = run(startup=True)
    assert withdrawn(s) == PORTS
    assert all(s.reason_list(p) == [C.REASON_STARTUP] for p in PORTS)


def test_remote_off_opens_only_the_alternator_and_system_ports_by_default():
    s = run(remote_on=False)
    assert withdrawn(s) == [C.PORT_ALT, C.PORT_SYS_CHG, C.PORT_SYS_DIS]
    assert s.reason_list(C.PORT_ALT) == [C.REASON_REMOTE_OFF]
    assert s.atc and s.atd


def test_remote_off_switching_everything_off():
    s = run(remote_on=False, all_off=True)
    assert withdrawn(s) == PORTS
    assert s.reason_list(C.PORT_ATD) == [C.REASON_REMOTE_OFF]


def test_all_off_does_nothing_while_the_remote_is_on():
    assert withdrawn(run(all_off=True)) == []


def test_reasons_list_startup_then_codes_in_table_order_then_remote():
    s = run(["E-B32", "A-B01", "A-B05"], startup=True, remote_on=False, all_off=True)
    assert s.reason_list(C.PORT_ATD) == [C.REASON_STARTUP, "A-B01", "A-B05", "E-B32", C.REASON_REMOTE_OFF]
    assert s.reason_list(C.PORT_ATC) == [C.REASON_STARTUP, "A-B05", "E-B32", C.REASON_REMOTE_OFF]


def test_a_later_call_replaces_every_mask():
    s = Status()
    a = bytearray(C.N_CODES)
    a[C.A_B05] = 1
    decide(s, a, True, False, True)
    a[C.A_B05] = 0
    decide(s, a, False, True, False)
    assert list(s.reasons) == [0] * C.N_PORTS and list(s.allowed) == [1] * C.N_PORTS


@given(st.sets(st.integers(0, C.N_CODES - 1)), st.booleans(), st.booleans(), st.booleans())
@hsettings(max_examples=200, deadline=None)
def test_a_port_is_withdrawn_if_and_only_if_a_reason_is_listed(active_ids, startup, remote_on, all_off):
    s = run([C.text(c) for c in active_ids], startup, remote_on, all_off)
    for p in PORTS:
        reasons = s.reason_list(p)
        assert (s.allowed[p] == 1) == (reasons == [])
        expect = [C.text(c) for c in sorted(active_ids) if C.withdraws(c) & (1 << p)]
        if startup:
            expect.insert(0, C.REASON_STARTUP)
        if not remote_on and (all_off or p not in (C.PORT_ATC, C.PORT_ATD)):
            expect.append(C.REASON_REMOTE_OFF)
        assert reasons == expect
