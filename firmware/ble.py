"""Bluetooth on MicroPython's ``bluetooth`` module: Instant Readout advertising
and the PIN-protected GATT service (behaviour §10; docs/ble.md).

``Radio(bt, app, keys)`` takes the ``bluetooth`` module (or the host's mock of
it, ``host_tools/ble_mock.py``), the ``bms.Bms`` and its ``ble_keys.BleKeys``.
aioble is not used: its ``advertise()`` moves a full 31-byte payload into the
scan response, it leaves the passkey handler unimplemented and writes bonds
non-atomically (instant-readout.md). The raw module needs no asyncio loop
either, so the REPL stays free.

Two contexts touch this object:
- the radio's events (``_irq``: NimBLE's host task holding the interpreter's
  lock) keep the connection slots and the bond store, answer the passkey, and
  check commands, which reach the core only as ``inbox`` posts;
- the control tick calls ``update(dt_ms, status)``: it rebuilds the
  advertisement once a second (``readout``), and half a second later refreshes
  and notifies the GATT values, so no tick carries both. Nothing here reads a clock.

Advertising goes on while phones are connected (connectable until all
``MAX_CONNECTIONS`` are taken) so Instant Readout never stops.
"""
from micropython import const

import gatt as G
import indicators as IN
from readout import Readout

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_GATTS_READ_REQUEST = const(4)
_IRQ_MTU_EXCHANGED = const(21)
_IRQ_ENCRYPTION_UPDATE = const(28)
_IRQ_GET_SECRET = const(29)
_IRQ_SET_SECRET = const(30)
_IRQ_PASSKEY_ACTION = const(31)
_PASSKEY_ACTION_DISPLAY = const(3)
_IO_DISPLAY_ONLY = const(0)          # the PIN is fixed (behaviour §9): "displayed" to no one
_GATTS_ERROR_INSUFFICIENT_AUTHENTICATION = const(0x05)

ADV_INTERVAL_US = const(250000)      # docs/ble.md: 4 advertisements a second
REFRESH_MS = const(1000)             # a new advertisement payload (one rotation slot) each second
VALUES_AT_MS = const(500)            # GATT values refresh half a period after the advertisement
MAX_CONNECTIONS = const(4)           # NimBLE on ESP32 (CONFIG_BT_NIMBLE_MAX_CONNECTIONS)
MIN_KEY_SIZE = const(16)
KEYS_SAVE_MS = const(1000)           # a changed PIN or bond is written this soon
MTU = const(185)                     # a battery page in one notification
NAME = "OpenBMS"


class Radio:
    """See the module docstring. ``name``: the device name (scan response).
    ``urandom``: random bytes (``os.urandom``) for session tokens and the first
    nonce. Counters: ``adverts`` (advertisement payloads set), ``notifies``,
    ``commands_ok``, ``commands_refused``, ``last_refusal`` (str), ``errors``
    and ``last_error`` (radio calls that raised: counted, never passed on)."""

    def __init__(self, bt, app, keys, urandom, name=NAME):
        self.bt = bt
        self.ble = bt.BLE()
        self.app = app
        self.keys = keys
        self._urandom = urandom
        self.name = name
        r = urandom(2)
        self.readout = Readout(keys.key, app.settings.get("ble_model_id"), r[0] | (r[1] << 8))
        self._key = keys.key
        self._generation = keys.generation
        self.values = G.Values()
        self.slots = [G.Conn() for _ in range(MAX_CONNECTIONS)]
        nb = name.encode()
        self._resp = bytes((len(nb) + 1, 0x09)) + nb
        uuid = bytes(reversed(bytes.fromhex(G.SERVICE_UUID.replace("-", ""))))
        self._plain_adv = bytes((2, 0x01, 0x06, 17, 0x07)) + uuid
        self.on = False
        self.advertising = False
        self._connectable = True
        self._version = -1
        self._readout_on = True
        self._cells = True
        self._ms = REFRESH_MS
        self._values_due = False
        self._keys_ms = 0
        self.adverts = self.notifies = self.commands_ok = self.commands_refused = self.errors = 0
        self.last_error = None
        self.last_refusal = None
        self.h_live = self.h_codes = self.h_battery = self.h_session = self.h_command = self.h_result = 0

    # -- set-up ----------------------------------------------------------
    def start(self):
        """Power the radio, register the service and start advertising."""
        ble = self.ble
        ble.active(True)
        ble.config(gap_name=self.name)
        ble.config(io=_IO_DISPLAY_ONLY, mitm=True, le_secure=True, bond=True)
        ble.config(mtu=MTU)
        ble.irq(self._irq)
        ((self.h_live, self.h_codes, self.h_battery, self.h_session, self.h_command, self.h_result),) = \
            ble.gatts_register_services((G.service(self.bt.UUID),))
        ble.gatts_set_buffer(self.h_command, G.COMMAND_MAX)
        ble.gatts_set_buffer(self.h_result, G.RESULT_MAX)
        ble.gatts_set_buffer(self.h_battery, G.BATTERY_LEN)
        ble.gatts_set_buffer(self.h_live, G.LIVE_LEN)
        ble.gatts_write(self.h_session, bytes(4))
        self.on = True
        self._version = -1

    def stop(self):
        """Stop advertising and drop every connection (``bluetooth`` set off)."""
        ble = self.ble
        self.on = False                    # first: a disconnection event must not restart advertising
        ble.gap_advertise(None)
        self.advertising = False
        for c in self.slots:
            if c.handle >= 0:
                try:
                    ble.gap_disconnect(c.handle)
                except OSError:
                    pass

    def connections(self):  # the number of phones connected
        n = 0
        for c in self.slots:
            if c.handle >= 0:
                n += 1
        return n

    def _slot(self, handle):  # the slot of ``handle`` (-1: a free one), or None
        for c in self.slots:
            if c.handle == handle:
                return c
        return None

    def _advertise(self):
        connectable = self.connections() < MAX_CONNECTIONS
        self.ble.gap_advertise(ADV_INTERVAL_US, adv_data=self.readout.adv if self._readout_on else self._plain_adv,
                               resp_data=self._resp, connectable=connectable)
        self._connectable = connectable
        self.advertising = True
        self.adverts += 1

    # -- the control tick's side ---------------------------------------------
    def update(self, dt, st):
        """From the control tick: settings, the advertisement, the GATT values,
        the credentials' save, ``st.ble_state`` (for the Bluetooth LED). Never
        raises: a radio call that fails (a phone gone between its event and a
        notification, a busy stack, a full flash) must not stop protection."""
        try:
            self._update(dt, st)
        except Exception as e:
            self.errors += 1
            self.last_error = "%s: %s" % (type(e).__name__, e)

    def _update(self, dt, st):
        s = self.app.settings
        if self._version != s.version:
            self._version = s.version
            want = s.get("bluetooth") == "on"
            if want and not self.on:
                self.start()
            elif not want and self.on:
                self.stop()
            self._readout_on = s.get("instant_readout") == "on"
            self._cells = s.get("readout_cells") == "on"
            self.readout.set_model(s.get("ble_model_id"))
            self._ms = REFRESH_MS
            self.advertising = False        # what goes on air changed: at once
        keys = self.keys
        if keys.generation != self._generation:    # every phone forgotten: cut off the connected
            self._generation = keys.generation
            for c in self.slots:
                if c.handle >= 0:
                    c.authenticated = False
                    self.ble.gap_disconnect(c.handle)
        if keys.key is not self._key:
            self._key = keys.key
            self.readout.set_key(keys.key)
            self._ms, self.advertising = REFRESH_MS, False
        if keys.dirty:
            self._keys_ms += dt
            if self._keys_ms >= KEYS_SAVE_MS:
                self._keys_ms = 0
                keys.save()
        if not self.on:
            st.ble_state = IN.BLE_OFF
            return
        self._ms += dt
        if self._ms >= REFRESH_MS:
            self._ms = 0
            changed = self.readout.next(st, self._cells)
            if changed or not self.advertising or self._connectable != (self.connections() < MAX_CONNECTIONS):
                self._advertise()
            self._values_due = True
        elif self._values_due and self._ms >= VALUES_AT_MS:
            self._values_due = False
            self._refresh(st)
        st.ble_state = IN.BLE_CONNECTED if self.connections() else (
            IN.BLE_ADVERTISING if self.advertising else IN.BLE_OFF)

    def _refresh(self, st):
        v = self.values
        v.fill(st)
        ble = self.ble
        ble.gatts_write(self.h_live, v.live)
        ble.gatts_write(self.h_codes, v.codes)
        ble.gatts_write(self.h_battery, v.battery)
        for c in self.slots:
            if c.handle >= 0 and c.authenticated:
                try:                            # one phone gone must not cost the others theirs
                    ble.gatts_notify(c.handle, self.h_live)
                    ble.gatts_notify(c.handle, self.h_codes)
                    ble.gatts_notify(c.handle, self.h_battery)
                    self.notifies += 3
                except OSError as e:
                    self.errors += 1
                    self.last_error = "OSError: %s (notify)" % (e,)

    # -- the radio's side ------------------------------------------------------
    def _irq(self, event, data):
        # Nothing may escape into the radio's stack: a failure is counted and the
        # event refused (a read) or ignored.
        try:
            return self._event(event, data)
        except Exception as e:
            self.errors += 1
            self.last_error = "%s: %s" % (type(e).__name__, e)
            return _GATTS_ERROR_INSUFFICIENT_AUTHENTICATION if event == _IRQ_GATTS_READ_REQUEST else None

    def _event(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            c = self._slot(-1)
            if c is None or not self.on:        # more than the stack allows, or Bluetooth just set off
                self.ble.gap_disconnect(data[0])
                return None
            c.open(data[0], self._urandom(4))
            if self.on:
                self._advertise()               # advertising stops on a connection: keep it going
        elif event == _IRQ_CENTRAL_DISCONNECT:
            c = self._slot(data[0])
            if c is not None:
                c.open(-1, b"")             # the slot is free; its session is gone
                c.session = None
            if self.on:
                self._advertise()
        elif event == _IRQ_ENCRYPTION_UPDATE:
            c = self._slot(data[0])
            if c is not None:
                c.encrypted = bool(data[1])
                c.authenticated = bool(data[1]) and bool(data[2]) and data[4] >= MIN_KEY_SIZE
                c.bonded = bool(data[3])
                if c.authenticated:
                    self.keys.commit()          # the pairing's secrets become a bond
                elif c.encrypted:               # paired without the PIN: no bond, no link
                    self.keys.drop_pending()
                    self.ble.gap_disconnect(c.handle)
        elif event == _IRQ_PASSKEY_ACTION:
            handle, action = data[0], data[1]
            # The phone's user types the PIN; with any other action (this board
            # has no keyboard or screen) pairing is declined.
            self.ble.gap_passkey(handle, action, self.keys.pin if action == _PASSKEY_ACTION_DISPLAY else 0)
        elif event == _IRQ_GATTS_READ_REQUEST:
            c = self._slot(data[0])
            if c is None or not c.authenticated or c.session is None:
                return _GATTS_ERROR_INSUFFICIENT_AUTHENTICATION
            if data[1] == self.h_session:
                self.ble.gatts_write(self.h_session, c.session.token)
            elif data[1] == self.h_result:
                self.ble.gatts_write(self.h_result, c.result)
            return 0
        elif event == _IRQ_GATTS_WRITE:
            self._command(data[0], data[1])
        elif event == _IRQ_MTU_EXCHANGED:
            c = self._slot(data[0])
            if c is not None:
                c.mtu = data[1]
        elif event == _IRQ_GET_SECRET:
            key = data[2]
            return self.keys.get_secret(data[0], data[1], None if key is None else bytes(key))
        elif event == _IRQ_SET_SECRET:
            value = data[2]
            return self.keys.set_secret(data[0], bytes(data[1]), None if value is None else bytes(value))
        return None

    def _command(self, handle, attr):
        ble = self.ble
        if attr != self.h_command:
            return                              # the stack refuses writes elsewhere: nothing to do
        value = bytes(ble.gatts_read(attr))
        ble.gatts_write(self.h_command, b"")     # a written command is not kept
        c = self._slot(handle)
        if c is None or c.session is None or not self.on:
            return
        res = G.handle(value, c.session, c.authenticated, self.app)
        c.result = res
        if res[2] == G.OK:
            self.commands_ok += 1
        else:
            self.commands_refused += 1
            self.last_refusal = "%s: %s" % (G.STATUS_NAMES[res[2]], bytes(res[3:]).decode())
        ble.gatts_notify(handle, self.h_result, res)
