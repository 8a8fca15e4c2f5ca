"""The power ports as one stage of the tick (Smart BMS 12/200; docs/alternator.md).

``PowerPorts`` owns the alternator port (``alternator``) and the System+ port
(``system_port``) of a profile that has them. ``protect(dt)`` runs before
diagnosis: it reads the power sensors (``hw.Hardware.sense``) and turns a new
short-circuit interrupt into a trip. ``update(dt, status, bank, stale)`` runs
after decide: it picks the lithium voltage and drives both ports from their
permissions. ``fill(status)`` copies what the REPL and the trace show.

The lithium voltage is the board's sense, checked against the batteries' own
reading: more than ``LI_DISAGREE_MV`` apart (an open or drifting sense) the
batteries' reading is used, and ``status.lithium_sense_bad`` says so (the
charge limit and the one-way rule must not rest on a broken wire).
"""
from micropython import const

import board as BD
import codes as C
import models as PF
from alternator import LIMIT_BMS_TEMP, AlternatorPort
from system_port import SystemPort

LI_DISAGREE_MV = const(1000)   # project: sense vs the batteries' sum (cables carry 0.2 V at 100 A)


class PowerPorts:
    """``alternator`` / ``system`` (None when the profile has no such port),
    ``alt_tripped`` / ``sys_tripped`` (after ``protect``), ``li_mv`` (after
    ``update``), ``li_sense_bad``."""

    def __init__(self, settings, profile, hw):
        self.hw = hw
        self.alternator = None
        if PF.has_kind(profile, PF.KIND_ALTERNATOR):
            self.alternator = AlternatorPort(settings, PF.profile(profile)[6] * 1000)
        self.system = None
        if PF.has_kind(profile, PF.KIND_SYSTEM):
            self.system = SystemPort(settings, bool(hw.has_output[BD.OUT_SYSTEM_PRECHARGE]))
        self.alt_tripped = False
        self.sys_tripped = False
        self.li_mv = None  # type: int | None
        self.li_sense_bad = False

    def protect(self, dt):
        hw = self.hw
        hw.sense()
        sp = self.system
        if sp is not None:
            sp.protect(dt, hw.shorts)
        self.alt_tripped = self.alternator is not None and self.alternator.trip.tripped
        self.sys_tripped = sp is not None and sp.trip.tripped

    def update(self, dt, st, bank, stale):
        hw = self.hw
        li = hw.li_mv
        bad = False
        if bank is not None and not stale:
            ref = bank.bank_mv
            if li is None or li - ref > LI_DISAGREE_MV or ref - li > LI_DISAGREE_MV:
                bad = li is not None
                li = ref
        self.li_mv = li
        self.li_sense_bad = bad
        al = st.allowed
        if self.alternator is not None:
            self.alternator.update(dt, al[C.PORT_ALT] == 1, hw.in_mv, li, hw.drop_uv, hw.alt_temp_dc, hw.bms_temp_dc)
        if self.system is not None:
            self.system.update(dt, al[C.PORT_SYS_CHG] == 1, al[C.PORT_SYS_DIS] == 1, hw.sys_mv, li)

    def bms_derating(self):
        """The BMS temperature is what limits the alternator now (its LED blinks)."""
        return self.alternator is not None and self.alternator.limit_why == LIMIT_BMS_TEMP

    def user_action(self):
        if self.alternator is not None:
            self.alternator.user_action()
        if self.system is not None:
            self.system.user_action()

    def fill(self, st):
        hw = self.hw
        st.lithium_mv = self.li_mv
        st.lithium_sense_bad = self.li_sense_bad
        st.alternator_mv = hw.in_mv
        st.system_mv = hw.sys_mv
        st.alternator_temp_dc = hw.alt_temp_dc
        st.bms_temp_dc = hw.bms_temp_dc
        a = self.alternator
        trips = 0
        retry = 0
        if a is not None:
            st.alternator_ma = a.current_ma
            st.alternator_pct = a.pct
            st.alternator_limit_ma = a.limit_ma
            st.alternator_limit_why = a.limit_why
            st.alternator_duty = a.duty
            st.alternator_on = a.on
            st.alternator_state = a.state
            trips = a.trip.trips
            retry = a.trip.wait_ms
        p = self.system
        if p is not None:
            st.system_charge = p.charge
            st.system_discharge = p.discharge
            st.system_precharge = p.precharge
            st.system_state = p.state
            trips += p.trip.trips
            if p.trip.wait_ms > retry:
                retry = p.trip.wait_ms
        st.port_trips = trips
        st.retry_in_ms = retry
