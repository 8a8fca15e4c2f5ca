"""The Bluetooth part of the REPL diagnostics, behind ``diag.ble()``,
``diag.set_pin()``, ``diag.new_advert_key()``, ``diag.forget_bonds()``
(docs/ble.md). ``app`` is the running ``bms.Bms``. Allocates freely: never
called from the loop. Changes to the core go through the inbox.
"""
import inbox as I


_BLE_STATES = ("off", "advertising", "connected")


def ble_lines(app):
    """Bluetooth: state, connections, the advertisement key (to enter in the
    decoders), model id, command counters. The PIN is never shown."""
    r = app.radio
    if r is None:
        return ["bluetooth: not on this board"]
    st = app.status
    paired = 0
    for c in r.slots:
        if c.handle >= 0 and c.authenticated:
            paired += 1
    s = app.settings
    out = ["bluetooth: %s, %d connected (%d paired), %d bonds stored; Instant Readout %s, record %s, nonce %d" % (
        _BLE_STATES[st.ble_state] if st.ble_state < 3 else st.ble_state, r.connections(), paired,
        len(app.ble_keys.bonds), s.get("instant_readout"),
        "0x%02X" % r.readout.record if r.readout.record else "-", r.readout.nonce)]
    out.append("  advertisement key %s  model id 0x%04X  commands %d ok, %d refused%s" % (
        app.ble_keys.key.hex(), s.get("ble_model_id"), r.commands_ok, r.commands_refused,
        "; last refused: %s" % r.last_refusal if r.last_refusal else ""))
    if r.errors:
        out.append("  radio errors %d (counted, protection unaffected); last: %s" % (r.errors, r.last_error))
    return out


def ble(app):
    """Print the Bluetooth lines: the advertisement key to enter in victron-ble or
    Home Assistant, the connections and the command counters."""
    for line in ble_lines(app):
        print(line)


def set_pin(app, pin):
    """Set the Bluetooth pairing PIN: 6 digits as a str ("123456"). Phones
    already bonded stay bonded; new pairings need the new PIN. ``ValueError``
    for anything else; applied at the next tick and saved."""
    import ble_keys
    if app.ble_keys is None:
        print("not changed: this board has no Bluetooth")
        return False
    try:
        value = ble_keys.parse_pin(pin)
        app.inbox.post((I.SET_PIN, value))
    except ValueError as e:          # a bad PIN, or a full inbox
        print("not changed: %s" % e)
        return False
    print("pairing PIN changed at the next tick: new pairings need it, bonded phones stay paired")
    return True


def new_advert_key(app):
    """Make a new advertisement key (the old one stops decoding: enter the new
    one, from ``diag.ble()``, in every decoder)."""
    if app.ble_keys is None:
        print("not changed: this board has no Bluetooth")
        return False
    app.ble_keys.new_key()
    print("new advertisement key %s" % app.ble_keys.key.hex())


def forget_bonds(app):
    """Forget every bonded phone and cut off the connected ones (each must
    pair again with the PIN)."""
    if app.ble_keys is None:
        print("not changed: this board has no Bluetooth")
        return False
    app.ble_keys.forget()
    print("every paired phone forgotten: each must pair again with the PIN")
    return True
