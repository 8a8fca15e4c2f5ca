"""A scenario's mistakes, as a user meets them on the command line: one line
``scenario error: FILE: what`` on stderr and exit status 2 (1 is for failed
expectations), before anything runs; a step that times out says when and on
what, and failed expectations say their window in words."""
import glob
import os
import subprocess
import sys

import pytest

import host_tools
from host_tools import scenario as scen
from host_tools.sim import Simulation, trace


def sim(path, *extra):
    p = subprocess.run([sys.executable, "-m", "host_tools.sim", str(path), "--live", "no"] + list(extra),
                       capture_output=True, text=True, timeout=300, cwd=host_tools.ROOT)
    return p.returncode, p.stdout, p.stderr


D = "duration_s = 10\n"
CASES = [
    # The file itself.
    ("toml", D + "[bank\n", "not valid TOML: Expected ']' at the end of a table declaration (at line 2, column 6)"),
    ("toml_value", D + "[bank]\nsoc_pct = 5O\n", "not valid TOML: Expected newline or end of document after a "
     "statement (at line 3, column 12)"),
    ("not_text", "\xff\xfe", "not UTF-8 text (byte 0): is this a scenario file?"),
    # Top level.
    ("top_key", D + 'model = "x"\n',
     "unknown top-level key 'model' (model is a setting: put it under [settings]); the keys are in docs/scenarios.md"),
    ("top_key_close", D + 'descripton = "x"\n',
     "unknown top-level key 'descripton' (did you mean 'description'?); the keys are in docs/scenarios.md"),
    ("no_duration", "[bank]\nparallel = 2\n", "duration_s (the longest the scenario may run, s) is required and > 0"),
    ("duration_type", 'duration_s = "1 h"\n', "duration_s must be a number above 0 (s), not '1 h'"),
    ("duration_zero", "duration_s = 0\n", "duration_s must be a number above 0 (s), not 0"),
    ("board", D + 'board = "esp32-nope"\n', "board 'esp32-nope': no such file boards/esp32-nope.json (boards: %s)"
     % ", ".join(sorted(os.path.splitext(n)[0] for n in os.listdir(host_tools.BOARDS_DIR) if n.endswith(".json")))),
    ("bank_not_table", D + "bank = 5\n", "bank must be a table, not 5"),
    ("step_not_array", D + "[step]\nt_s = 1\n", "step must be an array of tables: write [[step]] above each step"),
    ("expect_not_array", D + '[expect]\ntype = "final"\n',
     "expect must be an array of tables: write [[expect]] above each expectation"),
    # The bank and the plant.
    ("bank_key", D + "[bank]\nseries = 1\ncellz = 4\n",
     "[bank] unknown key 'cellz' (did you mean 'cells'?); the keys are in docs/scenarios.md"),
    ("bank_misplaced", D + "[bank]\nparallel = 2\nend_after_s = 5\n",
     "[bank] unknown key 'end_after_s' (end_after_s is a top-level key: put it above the first [table]); "
     "the keys are in docs/scenarios.md"),
    ("bank_series", D + "[bank]\nseries = 0\n", "[bank] series must be an integer 1..50 (batteries per string), not 0"),
    ("bank_float", D + "[bank]\nparallel = 2.0\n", "[bank] parallel must be an integer 1..50 (strings), not 2.0"),
    ("bank_too_many", D + "[bank]\nseries = 8\nparallel = 7\n", "[bank] at most 50 batteries: series 8 x parallel 7 "
                                                                "is 56"),
    ("bank_capacity", D + "[bank]\ncapacity_ah = 0\n", "[bank] capacity_ah must be a number 1..65535 (Ah), not 0"),
    ("bank_soc", D + "[bank]\nsoc_pct = 150\n",
     "[bank] soc_pct must be a number 0..108 (%; the cell curve ends at 108), not 150"),
    ("bank_cells", D + "[bank]\ncells = 20\n",
     "[bank] cells must be an integer 1..16 (cells per battery; the link carries 1..16), not 20"),
    ("plant_fuse", D + '[plant]\nfuse = "999A"\n',
     "[plant] fuse must be one of 125A, 100A, 80A, 60A, 2x30A, 2x20A, 2x15A, 2x10A, 2x7.5A, not '999A'"),
    ("plant_bool", D + "[plant]\nideal_diode = 1\n", "[plant] ideal_diode must be true or false, not 1"),
    # Settings, by the firmware's own rules and the model's.
    ("settings_range", D + "[settings]\ncell_uv_trip_v = 9.0\n",
     "[settings]: cell_uv_trip_v must be within 2.6..3.0 V, not 9.0"),
    ("settings_type", D + '[settings]\ncell_uv_trip_v = "2.8"\n', "[settings]: cell_uv_trip_v takes a number in V, "
                                                                 "not '2.8'"),
    ("settings_unknown", D + "[settings]\nwarp = 1\n",
     "[settings]: unknown setting 'warp'; the settings are in docs/settings.md"),
    ("settings_close", D + "[settings]\ncell_uv_trip = 2.9\n", "[settings]: unknown setting 'cell_uv_trip' (did you "
                                                               "mean 'cell_uv_trip_v' or 'cell_ov_trip_v'?); the "
                                                               "settings are in docs/settings.md"),
    ("settings_misplaced", D + "[settings]\nsoc_pct = 50\n",
     "[settings]: unknown setting 'soc_pct' (soc_pct is a [bank] key); the settings are in docs/settings.md"),
    ("settings_order", D + "[settings]\ncell_uv_trip_v = 3.0\npre_alarm_trip_v = 2.9\n",
     "[settings]: cell_uv_trip_v=3.0 and pre_alarm_trip_v=2.9 rejected: the pre-alarm must trip above the "
     "under-voltage trip"),
    ("settings_model", D + '[settings]\nmodel = "smallbms_ng"\nfuse_type = "80A"\n',
     "[settings]: fuse_type does not apply to the smallBMS NG (no alternator port)"),
    ("model_board", D + '[settings]\nmodel = "lynx_smart_bms"\n',
     "[settings]: the Lynx Smart BMS (model 'lynx_smart_bms') needs outputs contactor, aux_output, alternator_atc, "
     "which board file 'ESP32-DevKitC (ESP32-WROOM-32)' lacks: add them to its \"outputs\", or set another model"),
    # Steps: checked before the run, the last as well as the first.
    ("step_settings", "duration_s = 100\n[[step]]\nt_s = 5\nload_a = 10\n[[step]]\nt_s = 90\n"
                      'settings = { pre_alarm_mode = "sometimes" }\n',
     "step 2: settings: pre_alarm_mode must be one of continuous, intermittent, not 'sometimes'"),
    ("step_settings_order", "duration_s = 100\n[[step]]\nt_s = 5\nsettings = { cell_uv_trip_v = 2.6 }\n"
                            "[[step]]\nt_s = 9\nsettings = { cell_uv_hard_v = 2.65 }\n",
     "step 2: settings: cell_uv_hard_v=2.65 and cell_uv_trip_v=2.6 rejected: the hard under-voltage limit must "
     "be below the trip"),
    ("step_settings_unknown", D + "[[step]]\nt_s = 1\nsettings = { warp = 1 }\n",
     "step 1: settings: unknown setting 'warp'; the settings are in docs/settings.md"),
    ("step_settings_table", D + "[[step]]\nt_s = 1\nsettings = 3\n",
     "step 1: settings must be a table of setting = value, e.g. settings = { cell_uv_trip_v = 2.9 }"),
    ("step_key", D + "[[step]]\nt_s = 1\nlaod_a = 5\n",
     "step 1: unknown key 'laod_a' (did you mean 'load_a'?); the keys are in docs/scenarios.md"),
    ("step_setting_as_key", D + "[[step]]\nt_s = 1\ncell_uv_trip_v = 2.9\n",
     "step 1: unknown key 'cell_uv_trip_v' (cell_uv_trip_v is a setting: write settings = { cell_uv_trip_v = ... } "
     "in the step); the keys are in docs/scenarios.md"),
    ("step_value", "duration_s = 100\n[[step]]\nt_s = 1\n[[step]]\nt_s = 2\nload_a = \"ten\"\n",
     "step 2: load_a must be a number, 0 or more (A), not 'ten'"),
    ("step_time", D + '[[step]]\nt_s = "1"\n', "step 1: t_s must be a number, 0 or more (s), not '1'"),
    ("step_timeout", D + '[[step]]\nuntil = "atd_off"\ntimeout_s = 0\n',
     "step 1: timeout_s must be a number above 0 (s), not 0"),
    ("step_triggers", D + "[[step]]\nt_s = 1\nwait_s = 2\n", "step 1: give one trigger of t_s, wait_s, until, not "
                                                             "t_s and wait_s"),
    ("step_delay", D + "[[step]]\nwait_s = 1\ndelay_s = 2\n",
     "step 1: delay_s counts from an until event: add until, or use wait_s"),
    ("step_until", D + '[[step]]\nuntil = "lunch"\n', "step 1: until must be one of pre_alarm_on, pre_alarm_off, "
     "atd_off, atd_on, atc_off, atc_on, soc_known, synchronised, alternator_on_on, alternator_on_off, code:CODE "
     "(e.g. code:A-B01) or soc_below:PCT (e.g. soc_below:20), not 'lunch'"),
    ("step_until_code", D + '[[step]]\nuntil = "code:A-B99"\n',
     "step 1: until code:A-B99: there is no code A-B99 (did you mean code:A-B09?); the codes are in docs/codes.md"),
    ("step_until_soc", D + '[[step]]\nuntil = "soc_below:low"\n',
     "step 1: until soc_below:low: the level must be a number 0..100 (%), e.g. soc_below:20"),
    ("step_remote", D + "[[step]]\nremote = 5\n", "step 1: remote must be one of loop, open, l_low, h_high, not 5"),
    ("step_fault", D + '[[step]]\nfault = "fire"\n', "step 1: fault must be one of none, unplug, no_battery, "
     "remove_battery, bit_errors, garbage, stale, drop, intermittent, not 'fire'"),
    ("step_switch", D + '[[step]]\nsoft_switch = "on"\n', "step 1: soft_switch must be true or false, not 'on'"),
    ("step_set_soc", D + "[[step]]\nset_soc_pct = 150\n", "step 1: set_soc_pct must be a number 0..100 (%), not 150"),
    ("step_battery", D + "[bank]\nparallel = 2\n[[step]]\nfault = \"remove_battery\"\nbattery = 3\n",
     "step 1: battery must be a battery number 1..2 (the bank has 2 batteries), not 3"),
    ("step_batteries", D + "[[step]]\nfault = \"remove_battery\"\nbatteries = 1\n",
     "step 1: batteries must be a list of battery numbers 1..1 (the bank has one battery), e.g. [1], not 1"),
    ("step_cell", D + "[[step]]\ncell = { battery = 1, cell = 5, r_mohm = 20 }\n",
     "step 1: cell must be a cell number 1..4 (each battery has 4), not 5"),
    ("step_cell_keys", D + "[[step]]\ncell = { battery = 1, r_mohm = 20 }\n",
     "step 1: cell entries need battery, cell (optional r_mohm, soc_pct), e.g. cell = { battery = 1, cell = 1 }"),
    ("step_cycle", D + '[[step]]\ncycle = { key = "load_a", values = ["a"], durations_s = [1] }\n',
     "step 1: cycle needs key (load_a, charge_a, uncontrolled_a, temperature_c), values (numbers) and as many "
     "durations_s > 0, e.g. cycle = { key = \"charge_a\", values = [100, 0], durations_s = [1, 1] }; cycle = {} "
     "stops it"),
    # Expectations: their keys and values.
    ("expect_type", D + '[[expect]]\ntype = "vibes"\n', "expect 1: type must be one of edge, lead, final, never, "
     "counter, max_time, edges, exposure, range, resume, not 'vibes'"),
    ("expect_no_type", D + "[[expect]]\nfield = \"atd\"\n", "expect 1: type must be one of edge, lead, final, never, "
     "counter, max_time, edges, exposure, range, resume, not missing"),
    ("expect_key", D + '[[expect]]\ntype = "never"\ncode = "A-B01"\nafer_s = 3\n',
     "expect 1 (never): unknown key 'afer_s' (did you mean 'after_s'?); the keys are in docs/scenarios.md"),
    ("expect_missing", D + '[[expect]]\ntype = "resume"\nfield = "atd"\n',
     "expect 1 (resume) needs signal and below and min_s"),
    ("expect_field", D + '[[expect]]\ntype = "range"\nfield = "bankv"\nmin = 1\n',
     "expect 1 (range): field must be a trace field (docs/trace.md), not 'bankv'"),
    ("expect_edge_field", D + '[[expect]]\ntype = "edge"\nfield = "bank_v"\n',
     "expect 1 (edge): field must be one of atc, atd, pre_alarm, remote_on, alternator_on, contactor, aux_output, "
     "alternator_atc, alternator, system_charge, system_discharge, not 'bank_v'"),
    ("expect_final", D + '[[expect]]\ntype = "final"\natdd = true\n',
     "expect 1 (final): no trace field 'atdd' (did you mean 'atd'?); the fields are in docs/trace.md"),
    ("expect_final_codes", D + '[[expect]]\ntype = "final"\ncodes = ["A-B1"]\n',
     "expect 1 (final): codes must be a list of codes of docs/codes.md, e.g. [\"A-B01\"] or [], not ['A-B1']"),
    ("expect_edge_codes", D + '[[expect]]\ntype = "edge"\nfield = "atd"\ncodes = "A-B01"\n',
     "expect 1 (edge): codes must be a list of codes of docs/codes.md or reasons (startup, remote-off, not-12V), "
     "e.g. [\"A-B01\"], not 'A-B01'"),
    ("expect_code", D + '[[expect]]\ntype = "lead"\ncode = "A-B99"\n',
     "expect 1 (lead): code must be a code of docs/codes.md, e.g. A-B01, not 'A-B99'"),
    ("expect_never", D + '[[expect]]\ntype = "never"\n', "expect 1 (never) needs one of code (a code that must "
                                                         "never be raised) or field (with value, default false)"),
    ("expect_to", D + '[[expect]]\ntype = "edge"\nfield = "atd"\nto = "off"\n',
     "expect 1 (edge): to must be true or false, not 'off'"),
    ("expect_window", D + '[[expect]]\ntype = "edges"\nfield = "atd"\nafter_s = "x"\n',
     "expect 1 (edges): after_s must be a number (s), not 'x'"),
    ("expect_counter", D + '[[expect]]\ntype = "counter"\nname = "crcs"\n',
     "expect 1 (counter): name must be one of %s, not 'crcs'" % ", ".join(scen._counters())),
    ("expect_exposure", D + '[[expect]]\ntype = "exposure"\ntruth = "sim_cell_max_v"\nport = "atc"\nmax_s = 1\n',
     "expect 1 (exposure) needs one of above or below (the truth's limit)"),
]


@pytest.mark.parametrize("name,body,want", CASES, ids=[c[0] for c in CASES])
def test_each_scenario_mistake_is_one_line_before_the_run(tmp_path, name, body, want):
    path = tmp_path / (name + ".toml")
    path.write_bytes(body.encode("latin-1") if name == "not_text" else body.encode())
    code, out, err = sim(path)
    assert err == "scenario error: %s: %s\n" % (path, want)
    assert code == 2
    assert out == ""                                    # nothing ran: no trace, no table, no step


def test_a_missing_file_is_one_line(tmp_path):
    code, out, err = sim(tmp_path / "nope.toml")
    assert code == 2 and out == ""
    assert err == ("scenario error: %s: cannot read it (No such file or directory); scenarios are in "
                   "host_tools/scenarios/ and tests/scenarios/\n" % (tmp_path / "nope.toml"))


def test_load_names_the_file_first_for_every_caller(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(D + "[bank]\nseries = 0\n")
    with pytest.raises(scen.ScenarioError) as e:
        scen.load(str(path))
    assert str(e.value) == "%s: [bank] series must be an integer 1..50 (batteries per string), not 0" % path
    assert isinstance(e.value, ValueError)


def test_every_scenario_of_the_project_is_valid():
    files = glob.glob(os.path.join(host_tools.ROOT, "host_tools", "scenarios", "*.toml")) + \
        glob.glob(os.path.join(host_tools.ROOT, "tests", "scenarios", "*.toml"))
    assert len(files) > 40
    for f in files:
        scen.load(f)


def test_the_trace_fields_the_expectations_may_name_are_those_a_run_writes():
    sc = scen.check({"name": "fields", "duration_s": 3, "step": [{"t_s": 1, "note": "a step"}]})
    run = Simulation(sc, link="memory", echo=None)
    run.run()
    extra = {"settings", "scenario", "note"}
    for rec in run.trace:
        assert set(rec) - extra == set(trace.field_names())
    assert set(run.trace[0]) & extra == {"settings", "scenario"}


def test_a_step_timeout_says_when_and_the_expectations_their_window_in_words(tmp_path):
    path = tmp_path / "timeout.toml"
    path.write_text('duration_s = 600\n[bank]\nsoc_pct = 80\n'
                    '[[step]]\nt_s = 20\nnote = "a small load"\nload_a = 5\n'
                    '[[step]]\nuntil = "atd_off"\ntimeout_s = 30\nnote = "never comes"\n'
                    '[[expect]]\ntype = "edge"\nfield = "atd"\nto = false\n'
                    '[[expect]]\ntype = "edge"\nfield = "atc"\nto = false\nafter_s = 10\n'
                    '[[expect]]\ntype = "edges"\nfield = "atc"\nmin = 3\nbefore_s = 40\n')
    code, out, err = sim(path)
    assert code == 1 and err == ""
    fails = [line for line in out.splitlines() if line.startswith("FAILED: ")]
    assert fails[0] == ("FAILED: step 2 (until atd_off: never comes) timed out at 50.1 s: its timeout_s 30 ran "
                        "out, counted from 20.0 s, when the step before it ran; the run stopped there")
    assert fails[1] == "FAILED: expect 1 (edge): atd never became False with any code at any time (0 times, need 1)"
    assert fails[2] == "FAILED: expect 2 (edge): atc never became False with any code after 10 s (0 times, need 1)"
    assert fails[3] == "FAILED: expect 3 (edges): atc changed 1 times before 40 s, expected at least 3"
    assert len(fails) == 4 and "inf" not in out
    assert out.splitlines()[-1].endswith(": FAILED")


def test_a_first_step_timeout_counts_from_the_start_and_names_its_trigger():
    sc = scen.check({"name": "t", "duration_s": 60, "step": [{"wait_s": 40, "timeout_s": 15}]})
    run = Simulation(sc, link="memory", echo=None)
    assert not run.run()
    assert run.failures[0] == ("step 1 (wait_s 40) timed out at 15.1 s: its timeout_s 15 ran out, counted from "
                               "0.0 s, the start of the run; the run stopped there")


def test_an_event_that_came_does_not_time_out_while_its_delay_runs():
    # A low bank: the pre-alarm comes within seconds; its delay_s outlasts timeout_s.
    sc = scen.check({"name": "t", "duration_s": 40, "end_after_s": 0, "bank": {"soc_pct": 5},
                     "step": [{"until": "pre_alarm_on", "delay_s": 10, "timeout_s": 5, "note": "after the delay"}]})
    run = Simulation(sc, link="memory", echo=None)
    assert run.run(), run.failures
    assert any(r.get("note") == "after the delay" for r in run.trace)
