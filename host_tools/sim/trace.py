"""The trace: one record per simulated second and per change (docs/trace.md).

Built from the firmware's status record (``sim_driver.snapshot``) with the
simulator's truth beside it (fields starting ``sim_``), so a reader sees what the
BMS believed and what was so.
"""
import json

SAMPLE_MS = 1000          # a record every simulated second, plus one per change
CHANGE_KEYS = ("atc", "atd", "pre_alarm", "pre_alarm_out", "remote_on", "codes", "batteries", "balancer",
               "alternator", "alternator_on", "alternator_state", "alternator_limit_why", "system_charge",
               "system_discharge", "system_state", "contactor", "aux_output", "alternator_atc")
# Settings the first record carries: the lines the cells are drawn against.
PLOT_SETTINGS = ("model", "cell_uv_hard_v", "cell_uv_trip_v", "pre_alarm_trip_v", "cell_ov_trip_v",
                 "cell_ov_hard_v")
# Outputs only some models have: true / false at their pin, null where the board has none.
MODEL_OUTPUTS = ("contactor", "aux_output", "alternator_atc")


def _scaled(x, scale):
    return None if x is None else x / scale


def _temp(dc):
    """0.1 °C to °C; a failed sensor (ntc.SENSOR_OPEN / SENSOR_SHORT) is the
    string "open" / "short"."""
    if dc is None:
        return None
    return {-30000: "open", -30001: "short"}.get(dc, dc / 10.0)


def record(t_ms, snap):
    """One trace record (a dict) at ``t_ms`` from a firmware snapshot, without
    the truth (``add_truth`` adds it to the records that are kept)."""
    ports = snap["ports"]
    return {
        "t_s": round(t_ms / 1000.0, 3),
        "bank_v": _scaled(snap["bank_mv"], 1000.0),
        "current_a": _scaled(snap["current_ma"], 1000.0),
        "cell_min_v": _scaled(snap["cell_min_mv"], 1000.0),
        "cell_max_v": _scaled(snap["cell_max_mv"], 1000.0),
        "temp_min_c": _scaled(snap["temp_min_dc"], 10.0),
        "temp_max_c": _scaled(snap["temp_max_dc"], 10.0),
        "batteries": snap["batteries"],
        "series": snap["series"],
        "parallel": snap["parallel"],
        "system_v": snap["system_v"],
        "atc": snap["atc"],
        "atd": snap["atd"],
        "alternator": ports[2],
        "system_charge": snap["system_charge"],
        "system_discharge": snap["system_discharge"],
        "system_charge_allowed": ports[3],
        "system_discharge_allowed": ports[4],
        "system_state": snap["system_state"],
        "alternator_reasons": snap["port_reasons"][0],
        "system_charge_reasons": snap["port_reasons"][1],
        "system_discharge_reasons": snap["port_reasons"][2],
        "port_trips": snap["port_trips"],
        "lithium_v": _scaled(snap["lithium_mv"], 1000.0),
        "alternator_v": _scaled(snap["alternator_mv"], 1000.0),
        "system_plus_v": _scaled(snap["system_mv"], 1000.0),
        "alternator_a": snap["alternator_ma"] / 1000.0,
        "alternator_pct": snap["alternator_pct"],
        "alternator_limit_a": snap["alternator_limit_ma"] / 1000.0,
        "alternator_limit_why": snap["alternator_limit_why"],
        "alternator_duty": round(snap["alternator_duty"] / 65535.0, 4),
        "alternator_on": snap["alternator_on"],
        "alternator_state": snap["alternator_state"],
        "alternator_temp_c": _temp(snap["alternator_temp_dc"]),
        "bms_temp_c": _temp(snap["bms_temp_dc"]),
        "leds": snap["leds"],
        "pre_alarm": snap["pre_alarm"],
        "pre_alarm_out": snap["pre_alarm_out"],
        "remote_on": snap["remote_on"],
        "codes": snap["codes"],
        "atc_reasons": snap["atc_reasons"],
        "atd_reasons": snap["atd_reasons"],
        "soc_pct": None if snap["soc_pct10"] < 0 else snap["soc_pct10"] / 10.0,
        "consumed_ah": None if snap["soc_pct10"] < 0 else snap["consumed_mah"] / 1000.0,
        "ttg_min": None if snap["ttg_min"] < 0 else snap["ttg_min"],
        "balancer": snap["balancer"],
        "synchronisations": snap["syncs"],
        "link_frames_ok": snap["frames_ok"],
        "link_rejected": snap["rejected"],
        "link_answered_pct": snap["answered_pct"],
        "reading_age_s": round(snap["reading_age_ms"] / 1000.0, 1),
        "readings_at_once": snap["at_once"],
    }


# The simulator's truth that ``add_truth`` writes beside the firmware's belief.
TRUTH_KEYS = ("sim_soc_pct", "sim_cell_min_v", "sim_cell_max_v", "sim_alternator_a", "sim_reverse_a", "sim_input_v",
              "sim_starter_v", "sim_alternator_temp_c", "sim_alternator_max_a", "sim_bms_temp_c", "sim_system_plus_v",
              "sim_comparator_trips")


def field_names():
    """The fields every trace record has (docs/trace.md), in record order; the
    first record adds ``settings`` and ``scenario``, a step's record ``note``."""
    return tuple(record(0, empty_snapshot())) + MODEL_OUTPUTS + TRUTH_KEYS


def add_truth(rec, world):
    """The simulator's truth beside the firmware's belief: ``sim_soc_pct``,
    ``sim_cell_min_v``, ``sim_cell_max_v``."""
    lo, hi = world.truth_cells_v()
    rec["sim_soc_pct"] = round(world.bank.soc_pct(), 3)
    rec["sim_cell_min_v"] = lo
    rec["sim_cell_max_v"] = hi
    a = world.alt
    rec["sim_alternator_a"] = round(a.current_a, 3)
    rec["sim_reverse_a"] = round(min(0.0, a.min_current_a), 3)     # most negative since the last record
    a.min_current_a = a.current_a
    rec["sim_input_v"] = round(a.input_v, 3)
    rec["sim_starter_v"] = round(a.starter.ocv(), 3)
    rec["sim_alternator_temp_c"] = round(a.alternator.temp_c, 2)
    rec["sim_alternator_max_a"] = round(a.alternator.max_a(), 2)
    rec["sim_bms_temp_c"] = round(world.bms_temp_c, 2)
    rec["sim_system_plus_v"] = round(world.sys.v, 3)
    rec["sim_comparator_trips"] = world.comparator_trips
    return rec


def empty_snapshot():
    """A snapshot as before the first tick (for the live table's first frame)."""
    keys = ("bank_mv", "current_ma", "cell_min_mv", "cell_max_mv", "temp_min_dc", "temp_max_dc",
            "series", "parallel", "system_v")
    snap = dict.fromkeys(keys)
    snap.update(batteries=0, atc=False, atd=False, ports=[False] * 5, pre_alarm=False, pre_alarm_out=False,
                remote_on=False, codes=[], atc_reasons=[], atd_reasons=[], frames_ok=0, rejected=0,
                answered_pct=100, reading_age_ms=0, at_once=0, soc_pct10=-1, consumed_mah=0, ttg_min=-1,
                balancer="unknown", syncs=0, lithium_mv=None, alternator_mv=None, system_mv=None,
                alternator_ma=0, alternator_pct=0, alternator_limit_ma=0, alternator_limit_why="fuse",
                alternator_duty=0, alternator_on=False, alternator_state="off", alternator_temp_dc=None,
                bms_temp_dc=None, port_reasons=[[], [], []], system_charge=False, system_discharge=False, system_state="open", port_trips=0,
                leds=[])
    return snap


class TraceWriter:
    """Keeps the records (``records``) and writes them as JSON Lines to ``path``."""

    def __init__(self, path=None):
        self.records = []
        self._file = open(path, "w") if path else None

    def add(self, rec):
        self.records.append(rec)
        if self._file:
            self._file.write(json.dumps(rec) + "\n")

    def close(self):
        if self._file:
            self._file.close()
            self._file = None


def integrity_failures(t_ms, snap, sent_cells):
    """Failures when the firmware accepted a reading the ring did not send as such."""
    if "cells" not in snap:
        return []
    sent = sent_cells.get(snap["seq"])
    if sent is None or len(sent) != len(snap["cells"]):
        return ["at %.1f s the firmware accepted a reading the ring did not send" % (t_ms / 1000)]
    out = []
    for i, (cells, temps) in enumerate(sent):
        if snap["cells"][i] != cells or snap["temps"][i] != temps:
            out.append("at %.1f s battery %d: firmware holds cells %s temps %s, ring sent %s %s"
                       % (t_ms / 1000, i + 1, snap["cells"][i], snap["temps"][i], cells, temps))
    return out
