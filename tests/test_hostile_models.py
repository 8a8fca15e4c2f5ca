"""Attacks on the model profiles: a setting the model lacks written over
Bluetooth, a model the board cannot be, a battery plugged in beyond the model's
limit while running, values exactly at the limits, and two at once."""
import gatt as G
from bmsutil import Battery, Rig, codes
from test_ble import command, phone, snapshot


def test_bluetooth_cannot_set_what_the_model_lacks_or_a_model_the_board_cannot_be():
    r = Rig(ble=True, profile="smart_bms_cl_12_100")
    r.run(2000)
    h, token = phone(r)
    before = snapshot(r)
    status, text = command(r, h, token, 1, G.OP_SET, b'{"cell_uv_trip_v": 2.7, "system_retries": 5}')
    assert status == G.REFUSED and "system_retries does not apply to the Smart BMS CL 12/100 (no System+ port)" in text
    status, text = command(r, h, token, 2, G.OP_SET, b'{"model": "lynx_smart_bms"}')
    assert status == G.REFUSED and "needs outputs contactor, aux_output, alternator_atc" in text
    r.run_for(1000)
    assert snapshot(r)[:2] == before[:2]               # nothing changed, not even the valid half
    assert command(r, h, token, 3, G.OP_SET, b'{"model": "smallbms_ng", "fuse_type": "80A"}')[0] == G.OK
    r.run_for(200)
    assert r.s.get("model") == "smallbms_ng" and r.s.get("fuse_type") == "80A"
    assert r.app.profile == "smart_bms_cl_12_100"      # the running model changes only at the next start


def test_a_sixth_battery_plugged_in_while_running_is_e_b01_until_it_is_gone_and_the_bank_accepted():
    bats = [Battery(serial="SN%d" % (i + 1)) for i in range(6)]
    bats[5].present = False
    r = Rig(batteries=bats)
    r.run(5000)
    assert codes(r.st) == [] and r.st.atc and r.st.atd
    bats[5].present = True
    t = r.until(lambda st: "E-B01" in codes(st), 10000)
    assert t is not None and not r.st.atc and not r.st.atd
    bats[5].present = False
    r.run_for(5000)
    # Its reading is now incomplete: the bank checks hold (E-B01 stays, W-B05 speaks for the
    # missing battery) until the user accepts the smaller bank.
    assert "E-B01" in codes(r.st) and "W-B05" in codes(r.st) and not r.st.atd
    import inbox
    r.app.inbox.post((inbox.ACCEPT_BANK,))
    t = r.until(lambda st: "E-B01" not in codes(st), 10000)
    assert t is not None and r.st.atc and r.st.atd
    assert codes(r.st) == ["W-B05"]                    # held for link_warn_hold_s, then gone
    r.run_for(60000)                                   # 90 % of 20 s of polls answered, then the 30 s hold
    assert codes(r.st) == []


def test_exactly_at_each_limit_is_fine_and_one_more_is_not():
    for profile, n, cells, ok in (("smart_bms_12_200", 5, 4, True), ("smart_bms_12_200", 6, 4, False),
                                  ("smallbms", 20, 4, True), ("smallbms", 21, 4, False),
                                  ("smallbms_ng", 50, 4, True), ("smallbms_ng", 25, 16, True),
                                  ("smallbms_ng", 26, 16, False), ("lynx_smart_bms", 20, 8, True)):
        board = "esp32-devkitc-lynx" if profile == "lynx_smart_bms" else "esp32-devkitc"
        r = Rig(batteries=[Battery(cells=(3300,) * cells, serial="S%d" % i) for i in range(n)], profile=profile,
                board=board)
        r.run(6000)
        assert (codes(r.st) == []) == ok, (profile, n, cells, codes(r.st))


def test_a_12_v_only_model_with_24_v_bank_and_too_many_batteries_shows_both_errors():
    r = Rig(batteries=[Battery(cells=(3300,) * 8, serial="S%d" % i) for i in range(6)], profile="bms_12_200")
    r.run(6000)
    assert codes(r.st) == ["E-B01", "E-B09"] and not r.st.atc and not r.st.atd
    assert r.level("system_discharge") == 0 and r.level("system_charge") == 0
