"""firmware/bms.py, main.py and diag.py: outputs on pins, loop timing, crash safety."""
import pytest

import host_tools
from simutil import low_bank, run

host_tools.use_firmware()
import board as B  # noqa: E402
import codes as C  # noqa: E402

PIN = {"load": 25, "charge": 26, "pre_alarm": 27, "led": 2}


def pre_alarm_scenario(mode):
    return {"name": "pre-alarm " + mode, "duration_s": 40, "end_after_s": 40,
            "bank": low_bank(soc_pct=6), "settings": {"pre_alarm_mode": mode},
            "step": [{"load_a": 40}]}


def test_continuous_pre_alarm_is_one_edge():
    sim = run(pre_alarm_scenario("continuous"))
    edges = sim.pm.pin_transitions(PIN["pre_alarm"])
    assert [v for _, v in edges] == [0, 1]


def test_intermittent_pre_alarm_blinks_one_second_on_one_off():
    sim = run(pre_alarm_scenario("intermittent"))
    edges = sim.pm.pin_transitions(PIN["pre_alarm"])
    assert len(edges) > 10
    times = [t for t, _ in edges[1:]]
    assert [v for _, v in edges[1:]] == [1, 0] * (len(times) // 2) + [1] * (len(times) % 2)
    gaps = {(b - a) % (1 << 30) for a, b in zip(times, times[1:])}
    assert gaps == {1000}
    # the logical state stays on throughout while the pin blinks
    on_since = next(r["t_s"] for r in sim.trace if r["pre_alarm"])
    assert all(r["pre_alarm"] for r in sim.trace if r["t_s"] >= on_since)


def test_status_led_blinks_for_a_warning_and_is_on_for_an_alarm():
    sim = run({"name": "led", "duration_s": 60, "end_after_s": 60, "bank": low_bank(soc_pct=6),
               "step": [{"load_a": 40}, {"until": "code:W-B01", "delay_s": 5, "fault": "unplug"}]})
    edges = sim.pm.pin_transitions(PIN["led"])
    rises = [t for t, v in edges if v == 1]
    assert len(rises) >= 3                            # blinking while only warnings
    assert any("A-B05" in r["codes"] for r in sim.trace)
    assert sim.pm.level(PIN["led"]) == 1             # steady on in alarm
    assert edges[-1][1] == 1


def test_outputs_follow_the_logical_state_on_their_pins():
    sim = run({"name": "pins", "duration_s": 5, "end_after_s": 5, "bank": low_bank(soc_pct=50),
               "step": [{}]})
    last = sim.trace[-1]
    assert last["atc"] and last["atd"]
    assert sim.pm.level(PIN["load"]) == 1 and sim.pm.level(PIN["charge"]) == 1
    first_rise = sim.pm.pin_transitions(PIN["load"])[1][0]
    start = sim.clock.ticks_diff(first_rise, (1 << 30) - 600_000)
    assert start == 100                               # the first reading arrives on the second tick


def test_a_crash_in_the_loop_leaves_every_output_safe(monkeypatch):
    import protection
    real = protection.Protection.update
    calls = {"n": 0}

    def boom(self, *a):
        calls["n"] += 1
        if calls["n"] == 50:
            raise RuntimeError("injected fault")
        return real(self, *a)

    monkeypatch.setattr(protection.Protection, "update", boom)
    with pytest.raises(RuntimeError, match="injected"):
        run({"name": "crash", "duration_s": 20, "bank": low_bank(soc_pct=50), "step": [{}]})
    import sys
    pm = sys.modules["machine"]
    assert pm.level(PIN["load"]) == 0 and pm.level(PIN["charge"]) == 0
    assert any(v == 1 for _, v in pm.pin_transitions(PIN["load"]))   # it had been on


def test_the_loop_ticks_every_100_ms_of_the_clock():
    sim = run({"name": "ticks", "duration_s": 10, "end_after_s": 10, "bank": low_bank(soc_pct=50), "step": [{}]})
    assert sim.app.ticks == 100


def test_diag_status_prints_bank_outputs_reasons_and_codes(capsys):
    sim = run({"name": "diag", "duration_s": 10, "end_after_s": 10, "bank": low_bank(soc_pct=2),
               "step": [{"load_a": 40}]})
    import diag
    diag.status(sim.app)
    out = capsys.readouterr().out
    assert "1 batteries (1 series x 1 parallel)" in out
    assert "load disconnect (ATD)    off  (A-B01)" in out
    assert "charge disconnect (ATC)  ON" in out
    assert "A-B01 alarm   low cell voltage" in out
    assert "frames ok" in out


def test_diag_without_a_running_bms_says_so():
    import diag
    diag.attach(None)
    with pytest.raises(RuntimeError, match="no BMS attached"):
        diag.status()


def test_diag_soft_switch_and_accept_bank():
    sim = run({"name": "soft", "duration_s": 3, "end_after_s": 3, "bank": low_bank(soc_pct=50), "step": [{}]})
    import diag
    diag.attach(sim.app)
    diag.soft_switch(False)
    assert not sim.app.protection.soft_on
    sim.app.protection.expected_batteries = 5
    diag.accept_bank()
    assert sim.app.protection.expected_batteries == 0
