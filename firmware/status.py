"""The status record: the one place every reader takes the BMS's state from.

The control tick fills one preallocated ``Status`` at its end; the REPL
diagnostics, the simulator's trace and (later) Bluetooth read it and nothing
else of the core. Readers never write it. Units in the names; integers only.
"""
from array import array

import codes as C


class Status:
    """Fields after each tick:

    - ``ticks``, ``uptime_s``; ``stopped`` (the loop ended on an error);
    - ``startup`` (no reading with batteries since boot);
    - ``allowed`` (bytearray per ``codes.PORT_*``: 1 = allowed), ``reasons``
      (array of reason masks per port: ``codes.reason_names`` reads them);
      ``atc`` / ``atd`` as properties;
    - ``active`` (bytearray per code id, the diagnosis's own), ``pre_alarm``
      (logical, after ``pre_alarm_usage``), ``pre_alarm_out`` (the pin, after
      continuous / intermittent shaping), ``pre_alarm_blink_s`` (how the output
      shows it: 0 continuous, N s on and off, -1 no such output), ``led_on``;
    - ``stuck_cell``: the slot (battery index * ``bank.MAX_CELLS`` + cell) of a
      cell whose reading froze while its battery moved (``stuck``, E-B11), or -1;
    - ``remote_on``, ``remote_terminal_on``, ``remote_state`` (``inputs.REMOTE_*``),
      ``soft_on``;
    - ``bank`` (the latest reading with batteries, a ``bank.Bank``, or None),
      ``batteries`` (in the latest reading, 0 before the first),
      ``expected_batteries``, ``reading_age_ms``, ``complete``,
      ``readings_at_once`` (readings decided without delay or lead since boot:
      the first one, ones with a battery the previous reading lacked);
    - ``current_ma`` (+ = charging), ``current_known``, ``current_source``
      (``inputs.SOURCE_*``);
    - ``soc_pct10`` (-1 unknown), ``consumed_mah``, ``ttg_min`` (-1 none),
      ``synchronisations``, ``balancer`` (``balancer.*``);
    - ``link_frames_ok``, ``link_rejected``, ``link_answered_pct``, ``link_seq``
      (the sequence number of the poll the current reading answered),
      ``link_errors`` (the link's counters per cause, ``link.ERROR_NAMES``);
    - power ports (``None`` where the board has no such sensor, or the profile
      no such port): ``lithium_mv`` (``lithium_sense_bad``: the board's sense
      disagrees with the batteries, so theirs is used), ``alternator_mv`` (its
      input), ``system_mv``,
      ``alternator_ma`` (+ = into the bank), ``alternator_pct`` (of the fuse
      row's limit), ``alternator_limit_ma`` and ``alternator_limit_why``
      (``alternator.LIMIT_*``), ``alternator_duty`` (0..65535),
      ``alternator_on``, ``alternator_state`` (``alternator.ALT_*``),
      ``alternator_temp_dc``, ``bms_temp_dc`` (0.1 °C, ``ntc.SENSOR_OPEN`` / ``SENSOR_SHORT``),
      ``system_charge`` / ``system_discharge`` / ``system_precharge`` (gates
      closed), ``system_state`` (``system_port.SYS_*``), ``port_trips``
      (A-A12 trips since boot, both ports), ``retry_in_ms`` (until the next
      retry of a tripped port, 0 none); ``leds`` (bit ``indicators.LED_*`` lit),
      ``led_mask`` (the LEDs this profile has), ``ble_state``
      (``indicators.BLE_*``).
    """

    def __init__(self):
        self.ticks = 0
        self.uptime_s = 0
        self.stopped = False
        self.startup = True
        self.allowed = bytearray(C.N_PORTS)
        self.reasons = array("i", bytes(4 * C.N_PORTS))
        self.active = bytearray(C.N_CODES)
        self.pre_alarm = False
        self.pre_alarm_out = False
        self.stuck_cell = -1            # a frozen cell reading's slot (battery * MAX_CELLS + cell), -1 none (stuck)
        self.pre_alarm_blink_s = 0      # 0: a continuous output; N: blinks N s on, N s off; -1: the model has none
        self.led_on = False
        self.remote_on = True
        self.remote_terminal_on = True
        self.remote_state = 0
        self.soft_on = True
        self.bank = None
        self.batteries = 0
        self.expected_batteries = 0
        self.reading_age_ms = 0
        self.complete = False
        self.readings_at_once = 0
        self.current_ma = 0
        self.current_known = False
        self.current_source = 0
        self.soc_pct10 = -1
        self.consumed_mah = 0
        self.ttg_min = -1
        self.synchronisations = 0
        self.balancer = 0
        self.link_frames_ok = 0
        self.link_rejected = 0
        self.link_answered_pct = 100
        self.link_seq = 0
        self.link_errors = None  # type: array | None
        self.lithium_mv = None  # type: int | None
        self.lithium_sense_bad = False
        self.alternator_mv = None  # type: int | None
        self.system_mv = None  # type: int | None
        self.alternator_ma = 0
        self.alternator_pct = 0
        self.alternator_limit_ma = 0
        self.alternator_limit_why = 0
        self.alternator_duty = 0
        self.alternator_on = False
        self.alternator_state = 0
        self.alternator_temp_dc = None  # type: int | None
        self.bms_temp_dc = None  # type: int | None
        self.system_charge = False
        self.system_discharge = False
        self.system_precharge = False
        self.system_state = 0
        self.port_trips = 0
        self.retry_in_ms = 0
        self.leds = 0
        self.led_mask = 0
        self.ble_state = 0

    @property
    def atc(self):
        return self.allowed[C.PORT_ATC] == 1

    @property
    def atd(self):
        return self.allowed[C.PORT_ATD] == 1

    def reason_list(self, port):
        """Why ``port`` (``codes.PORT_*``) is withdrawn: a list of str, empty when
        allowed. Allocates: for readers, not the tick."""
        return C.reason_names(self.reasons[port])

    def active_codes(self):
        """Active code texts in table order (a list of str). Allocates."""
        return [C.text(cid) for cid in range(C.N_CODES) if self.active[cid]]
