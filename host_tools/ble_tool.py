"""Read and control a board over Bluetooth from a computer (docs/ble.md).

    python -m host_tools.ble_tool scan --key KEY [--seconds 10]
    python -m host_tools.ble_tool live ADDRESS
    python -m host_tools.ble_tool get ADDRESS [SETTING]
    python -m host_tools.ble_tool set ADDRESS SETTING VALUE
    python -m host_tools.ble_tool switch ADDRESS on|off

``scan`` listens to advertisements (bleak) and decodes each board's Instant
Readout with ``victron-ble`` and the owner's key (``diag.ble()`` at the REPL
shows it). The others connect over GATT (bleak); the link must be paired with
the board's PIN first: the operating system asks for it on the first
connection (``bluetoothctl`` on Linux, the Bluetooth settings elsewhere).

The protocol code (``Session``, ``decode_advert``, ``decode_live``) is separate
from bleak: the tests run it against the firmware on the host's mock radio
(``MockLink``), the same code a real board answers.
"""
import argparse
import asyncio
import json
import struct
import sys

from host_tools import use_firmware

use_firmware()
import codes as C  # noqa: E402  (the firmware's own code table and GATT layout)
import gatt as G  # noqa: E402

COMPANY_ID = 0x02E1


class BleToolError(RuntimeError):
    """The board refused a command or the link failed; the message says why."""


def decode_advert(payload, key_hex):
    """The Instant Readout of one advertisement: ``payload`` is the manufacturer
    data after company id 0x02E1 (as scanners report it). Returns a dict of the
    decoded values (``record``, ``model_id`` and the record's fields), or None
    for an advertisement that is not Instant Readout. Raises
    ``victron_ble.exceptions.AdvertisementKeyMismatchError`` for a wrong key."""
    from victron_ble.devices import detect_device_type
    payload = bytes(payload)
    if len(payload) < 8 or payload[0] != 0x10:
        return None
    cls = detect_device_type(payload)
    if cls is None:
        return None
    data = cls(key_hex).parse(payload)
    out = {"record": payload[4], "model_id": payload[2] | (payload[3] << 8), "nonce": payload[5] | (payload[6] << 8)}
    for name, value in data._data.items():
        out[name] = value.name.lower() if hasattr(value, "name") else value
    return out


def decode_live(value):
    """The live characteristic as a dict (units in the names; None = not known)."""
    mv, ma, soc, ttg, consumed, temp, io, err, n = struct.unpack(G.LIVE_FMT, bytes(value))
    return {"voltage_v": None if mv == 0xFFFF else mv / 1000, "current_a": None if ma == 0x7FFFFFFF else ma / 1000,
            "soc_pct": None if soc == 0xFFFF else soc / 10, "ttg_min": None if ttg == 0xFFFF else ttg,
            "consumed_ah": consumed / 1000 if soc != 0xFFFF else None,
            "temp_c": None if temp == 0x7FFF else temp / 10,
            "atc": bool(io & 1), "atd": bool(io & 2), "pre_alarm": bool(io & 4), "remote_on": bool(io & 8),
            "error": err, "active_codes": n}


def decode_codes(value):
    """The codes characteristic as a list of code texts ("A-B01")."""
    lo, hi = struct.unpack("<HH", bytes(value))
    mask = lo | (hi << 16)
    return [C.text(cid) for cid in range(C.N_CODES) if mask & (1 << cid)]


class Session:
    """Commands over one paired link (``link``: ``BleakLink`` or ``MockLink``)."""

    def __init__(self, link):
        self.link = link
        self.token = None
        self.seq = 0

    async def open(self):
        self.token = bytes(await self.link.read(G.SESSION_UUID))
        if len(self.token) != 4:
            raise BleToolError("the session characteristic gave %r: is the link paired?" % self.token)

    async def command(self, op, body=b""):
        """Send one command; return the result text. ``BleToolError`` if refused."""
        if self.token is None:
            await self.open()
        if self.seq >= 0xFFFF:
            raise BleToolError("this session has used every sequence number: reconnect")
        self.seq += 1
        await self.link.write(G.COMMAND_UUID, self.token + struct.pack("<HB", self.seq, op) + body)
        res = bytes(await self.link.read(G.RESULT_UUID))
        seq, status = struct.unpack("<HB", res[:3])
        text = res[3:].decode()
        if seq != self.seq:
            raise BleToolError("answer to command %d, expected %d" % (seq, self.seq))
        if status != G.OK:
            raise BleToolError("%s: %s" % (G.STATUS_NAMES[status], text))
        return text

    async def get(self, name=None):
        """One setting (``{name: value}``) or all of them (a dict)."""
        if name is not None:
            return json.loads(await self.command(G.OP_GET, name.encode()))
        names = ""
        page = 0
        while True:
            part = await self.command(G.OP_LIST, bytes([page]))
            names += part
            if len(part.encode()) < G.LIST_PAGE:
                break
            page += 1
        out = {}
        for n in names.split(","):
            out.update(json.loads(await self.command(G.OP_GET, n.encode())))
        return out

    async def set(self, name, value):
        return await self.command(G.OP_SET, json.dumps({name: value}).encode())

    async def switch(self, on):
        return await self.command(G.OP_SWITCH, b"\x01" if on else b"\x00")

    async def live(self):
        return decode_live(await self.link.read(G.LIVE_UUID))

    async def codes(self):
        return decode_codes(await self.link.read(G.CODES_UUID))


class MockLink:
    """A phone on the host's mock radio (``host_tools.ble_mock``): ``pump()``
    runs the firmware (e.g. a few control ticks) between requests."""

    def __init__(self, mock, conn, pump=None):
        self.mock = mock
        self.conn = conn
        self.pump = pump

    async def read(self, uuid):
        status, value = self.mock.read(self.conn, uuid)
        if status:
            raise BleToolError("read refused: ATT error 0x%02x" % status)
        return value

    async def write(self, uuid, data):
        status = self.mock.write(self.conn, uuid, data)
        if status:
            raise BleToolError("write refused: ATT error 0x%02x" % status)
        if self.pump is not None:
            self.pump()


class BleakLink:  # pragma: no cover - needs a Bluetooth adapter and a board
    """A real link through bleak (``async with BleakLink(address) as link``)."""

    def __init__(self, address):
        from bleak import BleakClient
        self.client = BleakClient(address, pair=True)

    async def __aenter__(self):
        await self.client.connect()
        return self

    async def __aexit__(self, *exc):
        await self.client.disconnect()

    async def read(self, uuid):
        return await self.client.read_gatt_char(uuid)

    async def write(self, uuid, data):
        await self.client.write_gatt_char(uuid, data, response=True)


async def scan(key_hex, seconds, out=print):  # pragma: no cover - needs an adapter
    from bleak import BleakScanner
    seen = {}

    def on_adv(device, adv):
        payload = adv.manufacturer_data.get(COMPANY_ID)
        if payload is None:
            return
        try:
            values = decode_advert(payload, key_hex)
        except Exception as e:      # wrong key, or another vendor's product
            values = {"error": str(e)}
        if values is not None:
            seen[device.address] = values
            out("%s %s %s" % (device.address, adv.local_name or "", values))

    async with BleakScanner(on_adv, scanning_mode="passive" if sys.platform.startswith("linux") else "active"):
        await asyncio.sleep(seconds)
    return seen


def parse_value(text):
    """A setting value from the command line: a number, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _connected(address, fn):  # pragma: no cover - needs an adapter
    async with BleakLink(address) as link:
        return await fn(Session(link))


def main(argv=None):  # pragma: no cover - needs an adapter
    ap = argparse.ArgumentParser(prog="python -m host_tools.ble_tool", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("scan", help="decode the Instant Readout of boards in range")
    p.add_argument("--key", required=True, help="the 32-hex-digit advertisement key (diag.ble())")
    p.add_argument("--seconds", type=float, default=10)
    for name in ("live", "get", "set", "switch"):
        p = sub.add_parser(name)
        p.add_argument("address")
        if name == "get":
            p.add_argument("setting", nargs="?")
        elif name == "set":
            p.add_argument("setting")
            p.add_argument("value")
        elif name == "switch":
            p.add_argument("state", choices=("on", "off"))
    a = ap.parse_args(argv)
    try:
        if a.cmd == "scan":
            asyncio.run(scan(a.key, a.seconds))
            return 0
        if a.cmd == "live":
            async def fn(s):
                return dict(await s.live(), codes=await s.codes())
        elif a.cmd == "get":
            async def fn(s):
                return await s.get(a.setting)
        elif a.cmd == "set":
            async def fn(s):
                return await s.set(a.setting, parse_value(a.value))
        else:
            async def fn(s):
                return await s.switch(a.state == "on")
        print(json.dumps(asyncio.run(_connected(a.address, fn)), indent=1))
        return 0
    except (BleToolError, OSError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
