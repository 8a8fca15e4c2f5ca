"""The power side of the simulated installation: alternator, starter battery,
the fuse as the current shunt, the port MOSFETs, and the System+ bus.

Alternator port (behaviour §3). The alternator is a voltage source at its
regulator's set point (``regulator_v``) behind ``r_ohm``, able to deliver at most
``max_a(engine_rpm)`` (a typical curve: nothing below cut-in, about 55 % of the
rating at idle, the rating at cruise); beyond that its voltage sags. The
starter battery (lead-acid, ``starter_soc_pct``) and the vehicle's loads share
the input node. The port: the fuse's true resistance, wiring, a reverse-blocking
MOSFET under an ideal-diode controller (hardware one-way, microseconds;
``ideal_diode = false`` removes it so only the firmware stands between the bank
and a flat starter battery), and MOSFETs whose
gate voltage follows the PWM duty through the gate driver's RC filter
(``gate_tau_s``); in saturation they pass ``k (Vgs - Vth)^2`` (Vth falls as they
warm), in the linear region the path's resistance sets the current. The bank is
its Thevenin equivalent (``bank_sim``). Each step the input node is solved by
bisection (Kirchhoff: alternator + starter = vehicle loads + port).

Heat: the alternator warms with its current squared (``alt_tau_s``); the BMS's
MOSFETs with their dissipation (linear-mode drop times current on the alternator
port, I²R on System+) through ``bms_rth_k_per_w`` to ``bms_ambient_c``.

System+ (behaviour §4): a capacitive load (an inverter's input, ``system_cap_f``)
with a DC load (``system_load_a`` while powered) and a charger
(``system_charge_a`` into the bank through the charge gate), a pre-charge
resistor, and a short circuit on demand. The over-current comparator trips at
``comparator_a``; the runner turns its output into the firmware's pin interrupt.
Units: V, A, Ω, s, °C; + current = into the lithium bank.
"""
import math

GATE_DRIVE_V = 10.0
RPM_PER_S = 2500.0                 # an engine's speed changes over about a second


class Alternator:
    def __init__(self, rated_a=120.0, regulator_v=14.4, r_ohm=0.004, ambient_c=40.0, alt_tau_s=120.0,
                 heat_k=90.0):
        self.rated_a = rated_a
        self.regulator_v = regulator_v
        self.r_ohm = r_ohm
        self.ambient_c = ambient_c
        self.temp_c = ambient_c
        self.tau_s = alt_tau_s
        self.heat_k = heat_k          # temperature rise (K) at the rated current, steady state
        self.engine_rpm = 0.0
        self.target_rpm = 0.0         # where the engine is heading (a step's engine_rpm)
        self.pulley = 3.0

    def slew(self, dt_s):
        """The engine changes speed at RPM_PER_S at most (it has inertia); below
        500 rpm on the way to 0 it stops."""
        d = self.target_rpm - self.engine_rpm
        step = RPM_PER_S * dt_s
        self.engine_rpm += max(-step, min(step, d))
        if self.target_rpm == 0 and self.engine_rpm < 500:
            self.engine_rpm = 0.0

    def max_a(self):
        """What it can deliver at the present engine speed (A)."""
        rpm = self.engine_rpm * self.pulley
        if rpm < 1500:
            return 0.0
        return self.rated_a * (1.0 - math.exp(-(rpm - 1500.0) / 1600.0))

    def current(self, v_node):
        """Current it pushes into a node at ``v_node`` (A, >= 0: its diodes)."""
        if self.engine_rpm <= 0:
            return 0.0
        i = (self.regulator_v - v_node) / self.r_ohm
        return min(max(i, 0.0), self.max_a())

    def heat(self, i_a, dt_s):
        target = self.ambient_c + self.heat_k * (i_a / self.rated_a) ** 2
        self.temp_c += (target - self.temp_c) * (1.0 - math.exp(-dt_s / self.tau_s))


class StarterBattery:
    """Lead-acid: open-circuit 11.9..12.7 V with SoC, 10 mΩ discharging, a
    poorer acceptance charging (60 mΩ)."""

    def __init__(self, soc_pct=90.0, capacity_ah=70.0):
        self.soc_pct = soc_pct
        self.capacity_ah = capacity_ah

    def ocv(self):
        return 11.9 + 0.8 * max(0.0, min(100.0, self.soc_pct)) / 100.0

    def current(self, v_node):
        """Current it delivers into the node (A, + = discharging)."""
        dv = self.ocv() - v_node
        return dv / (0.010 if dv > 0 else 0.060)

    def step(self, i_a, dt_s):
        self.soc_pct -= 100.0 * i_a * dt_s / 3600.0 / self.capacity_ah


class Mosfets:
    """The alternator port's MOSFETs: gate RC, square law in saturation."""

    def __init__(self, k=10.0, vth=3.0, r_on_ohm=0.0005, gate_tau_s=0.02):
        self.k = k
        self.vth0 = vth
        self.r_on = r_on_ohm
        self.tau = gate_tau_s
        self.vgs = 0.0

    def gate(self, duty, dt_s):
        target = duty * GATE_DRIVE_V
        self.vgs = target + (self.vgs - target) * math.exp(-dt_s / self.tau)

    def sat_a(self, temp_c):
        vth = self.vth0 - 0.006 * (temp_c - 25.0)
        ov = self.vgs - vth
        return self.k * ov * ov if ov > 0 else 0.0


class AlternatorPort:
    """The whole alternator side. ``step(dt_s, duty, bank_ocv_v, bank_r_ohm,
    other_a, bms_temp_c)`` returns the port current (A, + = into the bank) and
    sets ``input_v``, ``lithium_v``, ``fuse_drop_v``, ``mos_loss_w``."""

    def __init__(self, fuse_uohm=450.0, wire_ohm=0.001, ideal_diode=True, **alt_kw):
        self.alternator = Alternator(**alt_kw)
        self.starter = StarterBattery()
        self.mos = Mosfets()
        self.fuse_ohm = fuse_uohm * 1e-6
        self.wire_ohm = wire_ohm
        self.ideal_diode = ideal_diode
        self.vehicle_load_a = 5.0
        self.input_v = self.starter.ocv()
        self.lithium_v = 13.2
        self.current_a = 0.0
        self.fuse_drop_v = 0.0
        self.mos_loss_w = 0.0
        self.min_current_a = 0.0      # the most negative port current seen (reverse flow)

    def _port_a(self, v_in, bank_ocv, bank_r, other_a, sat):
        r_path = self.fuse_ohm + self.wire_ohm + self.mos.r_on
        # Linear region: the path's resistance and the bank's (its voltage rises
        # with the other currents into it too).
        tri = (v_in - bank_ocv - other_a * bank_r) / (r_path + bank_r)
        if tri >= 0:
            return min(tri, sat)
        if self.ideal_diode:
            return 0.0                 # the reverse-blocking MOSFET's ideal-diode controller
        return max(tri, -sat)          # without it the MOSFETs conduct both ways: reverse flow

    def step(self, dt_s, duty, bank_ocv, bank_r, other_a, bms_temp_c):
        self.mos.gate(duty, dt_s)
        sat = self.mos.sat_a(bms_temp_c)
        alt, st = self.alternator, self.starter
        alt.slew(dt_s)
        if sat == 0.0 and alt.engine_rpm <= 0:
            # Nothing conducts and the engine is off: the starter battery feeds the
            # vehicle's loads (closed form, no solve).
            i_st = self.vehicle_load_a
            self.input_v = st.ocv() - i_st * 0.010
            self.current_a = 0.0
            self.lithium_v = bank_ocv + other_a * bank_r
            self.fuse_drop_v = 0.0
            self.mos_loss_w = 0.0
            alt.heat(0.0, dt_s)
            st.step(i_st, dt_s)
            return 0.0

        def excess(v):
            return alt.current(v) + st.current(v) - self.vehicle_load_a - self._port_a(v, bank_ocv, bank_r, other_a, sat)

        lo, hi = 0.0, 20.0
        for _ in range(40):            # excess() falls with v
            mid = 0.5 * (lo + hi)
            if excess(mid) > 0:
                lo = mid
            else:
                hi = mid
        v_in = 0.5 * (lo + hi)
        i = self._port_a(v_in, bank_ocv, bank_r, other_a, sat)
        self.input_v = v_in
        self.current_a = i
        self.min_current_a = min(self.min_current_a, i)
        self.lithium_v = bank_ocv + (other_a + i) * bank_r
        self.fuse_drop_v = i * self.fuse_ohm
        r_rest = self.fuse_ohm + self.wire_ohm
        self.mos_loss_w = abs(i) * max(0.0, abs(v_in - self.lithium_v) - abs(i) * r_rest)
        i_alt = alt.current(v_in)
        alt.heat(i_alt, dt_s)
        st.step(st.current(v_in), dt_s)
        return i


class SystemPlus:
    """The System+ bus. ``step(dt_s, chg, dis, pre, lithium_v)`` returns the port
    current (A, + = into the bank) and sets ``v``, ``loss_w``; ``tripped`` is
    True when the comparator fired in that step (the runner interrupts the
    firmware, whose handler opens the gates)."""

    def __init__(self, cap_f=0.02, precharge_ohm=10.0, path_ohm=0.002, comparator_a=600.0):
        self.cap_f = cap_f
        self.precharge_ohm = precharge_ohm
        self.path_ohm = path_ohm
        self.comparator_a = comparator_a
        self.v = 0.0
        self.load_a = 0.0
        self.charge_a = 0.0
        self.short = False
        self.loss_w = 0.0
        self.peak_a = 0.0

    def demand_a(self, dis, lithium_v):
        """The discharge current the gate would carry now (A, >= 0): inrush into
        the capacitance, the DC load, or a short."""
        if not dis:
            return 0.0
        if self.short:
            return lithium_v / (self.path_ohm + 0.002)
        inrush = max(0.0, lithium_v - self.v) / self.path_ohm
        return inrush + self.load_a

    def step(self, dt_s, chg, dis, pre, lithium_v):
        i = 0.0
        if dis:
            if self.short:
                i = -lithium_v / (self.path_ohm + 0.002)
                self.v = 0.0
            else:
                self.v = lithium_v
                i = -self.load_a
        else:
            # The load (an inverter) waits for full voltage: it draws only through the
            # closed gate (inverters delay their start after power-up).
            if self.short:
                self.v = 0.0
            elif pre:
                tau = self.precharge_ohm * self.cap_f     # RC charge through the resistor
                self.v = lithium_v + (self.v - lithium_v) * math.exp(-dt_s / tau)
                i = -(lithium_v - self.v) / self.precharge_ohm
            else:
                self.v *= math.exp(-dt_s / 1.0)           # its bleed resistors
        if chg and self.charge_a > 0 and not self.short:
            i += self.charge_a
        self.peak_a = max(self.peak_a, abs(i))
        self.loss_w = i * i * 0.0005
        return i
