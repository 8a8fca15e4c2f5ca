"""A scenario's mistakes, as a user meets them on the command line: one line
``scenario error: FILE: what`` and exit status 2, before anything runs; a step
that times out says when, and failed expectations say their window in words."""
import subprocess
import sys

import pytest

import host_tools


def sim(path, *extra):
    p = subprocess.run([sys.executable, "-m", "host_tools.sim", str(path), "--live", "no"] + list(extra),
                       capture_output=True, text=True, timeout=300, cwd=host_tools.ROOT)
    return p.returncode, p.stdout, p.stderr


CASES = [
    ("settings_range", 'duration_s = 10\n[settings]\ncell_uv_trip_v = 9.0\n',
     "[settings]: cell_uv_trip_v must be within 2.6..3.0 V, not 9.0"),
    ("settings_unknown", 'duration_s = 10\n[settings]\nwarp = 1\n', "[settings]: unknown setting 'warp'"),
    ("settings_order", 'duration_s = 10\n[settings]\ncell_uv_trip_v = 3.0\npre_alarm_trip_v = 2.9\n',
     "[settings]: cell_uv_trip_v=3.0 and pre_alarm_trip_v=2.9 rejected: the pre-alarm must trip above the "
     "under-voltage trip"),
    ("settings_model", 'duration_s = 10\n[settings]\nmodel = "smallbms_ng"\nfuse_type = "80A"\n',
     "[settings]: fuse_type does not apply to the smallBMS NG (no alternator port)"),
    ("model_board", 'duration_s = 10\n[settings]\nmodel = "lynx_smart_bms"\n',
     "[settings]: the Lynx Smart BMS (model 'lynx_smart_bms') needs outputs contactor, aux_output, alternator_atc, "
     "which board file 'ESP32-DevKitC (ESP32-WROOM-32)' lacks: add them to its \"outputs\", or set another model"),
    ("step_settings", 'duration_s = 100\n[[step]]\nt_s = 5\nload_a = 10\n[[step]]\nt_s = 90\n'
                      'settings = { pre_alarm_mode = "sometimes" }\n',
     "step 2: settings: pre_alarm_mode must be one of continuous, intermittent, not 'sometimes'"),
    ("step_settings_order", 'duration_s = 100\n[[step]]\nt_s = 5\nsettings = { cell_uv_trip_v = 2.6 }\n'
                            '[[step]]\nt_s = 9\nsettings = { cell_uv_hard_v = 2.65 }\n',
     "step 2: settings: cell_uv_hard_v=2.65 and cell_uv_trip_v=2.6 rejected: the hard under-voltage limit must "
     "be below the trip"),
    ("toml", 'duration_s = 10\n[bank\n', "not valid TOML: Expected ']' at the end of a table declaration "
                                        "(at line 2, column 6)"),
    ("top_key", 'duration_s = 10\nmodel = "x"\n', "unknown top-level key 'model'"),
    ("no_duration", '[bank]\nparallel = 2\n', "duration_s (the longest the scenario may run, s) is required and > 0"),
    ("board", 'duration_s = 10\nboard = "esp32-nope"\n', "board 'esp32-nope': no such file boards/esp32-nope.json"),
]


@pytest.mark.parametrize("name,body,want", CASES, ids=[c[0] for c in CASES])
def test_each_scenario_mistake_is_one_line_before_the_run(tmp_path, name, body, want):
    path = tmp_path / (name + ".toml")
    path.write_text(body)
    code, out, err = sim(path)
    assert code == 2
    assert err == "scenario error: %s: %s\n" % (path, want)
    assert out == ""                                    # nothing ran: no trace, no table, no step


def test_a_missing_file_is_one_line(tmp_path):
    code, out, err = sim(tmp_path / "nope.toml")
    assert code == 2 and out == ""
    assert err == ("scenario error: %s: cannot read it (No such file or directory); scenarios are in "
                   "host_tools/scenarios/ and tests/scenarios/\n" % (tmp_path / "nope.toml"))


def test_a_step_timeout_says_when_and_the_expectations_their_window_in_words(tmp_path):
    path = tmp_path / "timeout.toml"
    path.write_text('duration_s = 600\n[bank]\nsoc_pct = 80\n'
                    '[[step]]\nt_s = 20\nnote = "a small load"\nload_a = 5\n'
                    '[[step]]\nuntil = "atd_off"\ntimeout_s = 30\nnote = "never comes"\n'
                    '[[expect]]\ntype = "edge"\nfield = "atd"\nto = false\n'
                    '[[expect]]\ntype = "edge"\nfield = "atc"\nto = false\nafter_s = 10\n')
    code, out, err = sim(path)
    assert code == 1 and err == ""
    fails = [line for line in out.splitlines() if line.startswith("FAILED: ")]
    assert fails[0] == ("FAILED: step 2 (until atd_off: never comes) timed out at 50.1 s: its timeout_s 30 ran "
                        "out, counted from 20.0 s when the step before it ran; the run stopped there")
    assert fails[1] == "FAILED: expect 1 (edge): atd never became False with any code at any time (0 times, need 1)"
    assert fails[2] == "FAILED: expect 2 (edge): atc never became False with any code after 10 s (0 times, need 1)"
    assert len(fails) == 3 and "inf" not in out
