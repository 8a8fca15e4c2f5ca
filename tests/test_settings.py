"""firmware/settings.py: schema sanity, validation, all-or-nothing updates."""
import math

import pytest

import host_tools

host_tools.use_firmware()
import settings as S  # noqa: E402


def test_every_default_is_valid_and_in_range():
    s = S.Settings()
    for name, unit, default, lo, hi, source in S.SCHEMA:
        assert source, name
        if unit == S.CHOICE:
            assert default in lo
        else:
            assert lo <= default <= hi, name
            assert unit in ("V", "mV", "A", "s", "d", "degC", "%", "n", "id"), name
        assert s.check(name, default) == default
        # a count ("n": system_retries) has no unit to name; an identifier ends in _id
        assert name.endswith(("_v", "_mv", "_a", "_s", "_days", "_c", "_pct")) or unit in (S.CHOICE, "n") or (
            unit == "id" and name.endswith("_id")), \
            "unit missing from name: " + name


def test_behaviour_doc_defaults():
    s = S.Settings()
    assert s.mv("cell_uv_trip_v") == 2800        # behaviour §1
    assert s.mv("pre_alarm_trip_v") == 3100      # behaviour §1
    assert s.ms("pre_alarm_lead_s") == 30000     # behaviour §1
    assert s.deci_c("charge_ut_trip_c") == 50    # behaviour §1, NG: 5 degC
    assert s.get("pre_alarm_mode") == "continuous"
    assert s.get("remote_function") == "ports_only"


def test_core_defaults():
    """The numbers the diagnosis core is built around (docs/protection.md)."""
    s = S.Settings()
    assert s.mv("cell_uv_hard_v") == 2500 and s.mv("cell_ov_hard_v") == 3900
    assert s.deci_c("charge_ot_hard_c") == 550 and s.deci_c("charge_ut_hard_c") == 0
    assert s.get("recharge_pct") == 1.0 and s.ms("link_warn_hold_s") == 30000
    assert s.ms("pre_alarm_hold_s") == 60000 and s.ms("pre_alarm_delay_s") == 1000
    assert s.ms("bank_check_s") == 2000 and s.ms("battery_fault_clear_s") == 5000
    assert s.get("link_warn_answered_pct") == 40 and s.get("link_clear_answered_pct") == 90
    assert s.ms("current_hold_s") == 10000 and s.ms("link_lost_alarm_s") == 30000
    for name in ("link_warn_answered_pct", "link_clear_answered_pct"):
        assert isinstance(s.get(name), int)


def test_every_order_rule_holds_for_the_defaults_and_names_real_settings():
    s = S.Settings()
    for low, high, why in S._ORDER:
        assert s.get(low) < s.get(high), why


@pytest.mark.parametrize("name,value,words", [
    ("cell_uv_trip_v", 3.5, "within"),
    ("cell_uv_trip_v", "2.8", "number"),
    ("cell_uv_trip_v", True, "number"),
    ("cell_uv_trip_v", math.nan, "within"),
    ("cell_uv_delay_s", 2.5, "whole number"),
    ("pre_alarm_mode", "blinking", "one of"),
    ("pre_alarm_lead_s", 29, "within"),          # never less than the documented 30 s
    ("no_such_setting", 1, "unknown"),
    ("pre_alarm_reset_v", 3.05, "reset must be above"),
    ("pre_alarm_trip_v", 2.8, "pre-alarm must trip above"),
    ("cell_ov_hard_v", 3.7, "hard over-voltage limit must be above"),
    ("cell_ov_trip_v", 3.9, "hard over-voltage limit must be above"),
    ("charge_ot_hard_c", 50, "hard over-temperature limit must be above"),
    ("charge_ut_hard_c", 5, "hard low-temperature limit must be below"),
    ("link_warn_answered_pct", 90, "W-B05 must clear above"),
    ("link_clear_answered_pct", 40, "W-B05 must clear above"),
    ("link_warn_answered_pct", 40.5, "whole number"),
    ("recharge_pct", 0, "within"),
    ("current_hold_s", 0, "within"),
    ("recharge_pct", 0.05, "within"),
    ("recharge_pct", 10.5, "within"),
    ("recharge_s", 10, "unknown"),               # gone: recharge is an amount of charge
    ("pre_alarm_hold_s", 0, "within"),
    ("pre_alarm_hold_s", 601, "within"),
    ("pre_alarm_hold_s", 1.5, "whole number"),
])
def test_bad_values_are_refused_and_change_nothing(name, value, words):
    s = S.Settings()
    before = {n: s.get(n) for n in s.names()}
    version = s.version
    with pytest.raises(S.SettingsError) as e:
        s.set(name, value)
    assert words in str(e.value)
    assert {n: s.get(n) for n in s.names()} == before
    assert s.version == version


def test_the_pre_alarm_must_trip_above_the_low_bank_voltage_trip():
    """A-B08 (bank_uv_cell_v) waits for the pre-alarm's lead: the pre-alarm must
    come first, whichever of the two moves."""
    s = S.Settings()
    s.set("pre_alarm_trip_v", 2.9)
    s.set("bank_uv_cell_v", 2.85)
    with pytest.raises(S.SettingsError, match="pre-alarm must trip above the low-bank-voltage trip"):
        s.set("bank_uv_cell_v", 2.9)
    with pytest.raises(S.SettingsError, match="pre-alarm must trip above the low-bank-voltage trip"):
        s.set("pre_alarm_trip_v", 2.85)
    with pytest.raises(S.SettingsError, match="pre-alarm must trip above the low-bank-voltage trip"):
        s.update({"pre_alarm_trip_v": 2.95, "bank_uv_cell_v": 3.0})
    assert (s.mv("pre_alarm_trip_v"), s.mv("bank_uv_cell_v")) == (2900, 2850)
    s.update({"pre_alarm_trip_v": 3.0, "bank_uv_cell_v": 2.95})
    assert (s.mv("pre_alarm_trip_v"), s.mv("bank_uv_cell_v")) == (3000, 2950)


@pytest.mark.parametrize("name", [None, 1, 2.5, b"cell_uv_trip_v", ("cell_uv_trip_v",), ["x"]])
def test_a_name_that_is_not_a_str_is_a_settings_error(name):
    with pytest.raises(S.SettingsError, match="unknown setting"):
        S.schema_row(name)
    s = S.Settings()
    with pytest.raises(S.SettingsError, match="unknown setting"):
        s.check(name, 1)


def test_check_update_returns_the_result_and_stores_nothing():
    s = S.Settings()
    version = s.version
    trial = s.check_update({"pre_alarm_trip_v": 2.9, "cell_uv_delay_s": 7.0})
    assert trial["pre_alarm_trip_v"] == 2.9 and trial["cell_uv_delay_s"] == 7
    assert isinstance(trial["cell_uv_delay_s"], int)
    assert s.get("pre_alarm_trip_v") == 3.10 and s.get("cell_uv_delay_s") == 5 and s.version == version
    with pytest.raises(S.SettingsError, match="within"):
        s.check_update({"cell_uv_delay_s": 99})
    assert s.version == version


def test_check_update_applies_the_pending_changes_first():
    s = S.Settings()
    # alone, each change is fine; after the pending one it breaks an order rule
    assert s.check_update({"bank_uv_cell_v": 2.95})["bank_uv_cell_v"] == 2.95
    with pytest.raises(S.SettingsError, match="pre-alarm must trip above the low-bank-voltage trip"):
        s.check_update({"bank_uv_cell_v": 2.95}, {"pre_alarm_trip_v": 2.9})
    # the pending change makes an otherwise refused one fine
    with pytest.raises(S.SettingsError, match="reset must be above"):
        s.check_update({"pre_alarm_trip_v": 3.25})
    trial = s.check_update({"pre_alarm_trip_v": 3.25}, {"pre_alarm_reset_v": 3.3})
    assert (trial["pre_alarm_trip_v"], trial["pre_alarm_reset_v"]) == (3.25, 3.3)
    with pytest.raises(S.SettingsError, match="within"):
        s.check_update({"cell_uv_delay_s": 7}, {"cell_uv_delay_s": 99})     # a bad pending value
    assert s.get("pre_alarm_trip_v") == 3.10 and s.get("pre_alarm_reset_v") == 3.20


def test_update_is_check_update_stored():
    s = S.Settings()
    version = s.version
    s.update({"recharge_pct": 2.5, "pre_alarm_hold_s": 120})
    assert s.get("recharge_pct") == 2.5 and s.ms("pre_alarm_hold_s") == 120000 and s.version == version + 1


def test_set_stores_and_converts():
    s = S.Settings()
    assert s.set("cell_uv_delay_s", 7.0) == 7 and isinstance(s.get("cell_uv_delay_s"), int)
    s.set("pre_alarm_mode", "intermittent")
    assert s.get("pre_alarm_mode") == "intermittent"
    s.set("charge_ut_trip_c", 2.5)
    assert s.deci_c("charge_ut_trip_c") == 25


def test_update_moves_trip_and_reset_together_or_not_at_all():
    s = S.Settings()
    s.update({"cell_ov_trip_v": 3.65, "cell_ov_reset_v": 3.40})
    assert (s.get("cell_ov_trip_v"), s.get("cell_ov_reset_v")) == (3.65, 3.40)
    with pytest.raises(S.SettingsError):
        s.update({"cell_ov_trip_v": 3.70, "cell_ov_reset_v": 3.70})
    with pytest.raises(S.SettingsError):
        s.update({"cell_ov_trip_v": 3.70, "pre_alarm_mode": "bad"})
    assert (s.get("cell_ov_trip_v"), s.get("cell_ov_reset_v")) == (3.65, 3.40)


def test_a_hard_limit_and_its_trip_are_checked_whichever_moves():
    s = S.Settings()
    s.set("cell_uv_hard_v", 2.7)
    with pytest.raises(S.SettingsError, match="hard under-voltage limit must be below"):
        s.set("cell_uv_trip_v", 2.65)
    s.update({"cell_uv_hard_v": 2.6, "cell_uv_trip_v": 2.65})
    assert (s.mv("cell_uv_hard_v"), s.mv("cell_uv_trip_v")) == (2600, 2650)


def test_negative_temperatures_round_to_the_nearest_tenth():
    s = S.Settings()
    s.update({"charge_ut_hard_c": -5, "charge_ut_trip_c": 0})
    assert s.deci_c("charge_ut_trip_c") == 0
    s._values["charge_ut_trip_c"] = -4.96
    assert s.deci_c("charge_ut_trip_c") == -50
