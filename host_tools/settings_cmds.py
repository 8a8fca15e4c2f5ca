"""``bmsctl settings``: read and change a board's settings, export them to a
TOML file and import one back (tomllib reads, tomli-w writes).

A file is checked against the firmware's own rules (``firmware/settings.py``:
names, types, ranges, the order rules) before anything is sent, and sent as one
change, all or nothing: a file with one bad value changes nothing. The file's
format::

    # comments are kept out of the board
    model = "smart_bms_12_200"       # informative: the model it came from
    [settings]
    cell_uv_trip_v = 2.8
    pre_alarm_mode = "continuous"
"""
import datetime
import os
import tomllib

import tomli_w

import host_tools
from host_tools.board_cmds import UserError

host_tools.use_firmware()
import models as M  # noqa: E402
import settings as S  # noqa: E402


def load_file(path):
    """``{name: value}`` of the ``[settings]`` table of TOML file ``path``,
    checked against the firmware's rules; ``UserError`` says what is wrong."""
    if not os.path.isfile(path):
        raise UserError("no settings file %s (write one with: bmsctl settings export --defaults %s)" % (path, path))
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise UserError("%s is not valid TOML: %s" % (path, e))
    extra = sorted(k for k in doc if k not in ("settings", "model", "exported"))
    if extra:
        raise UserError("%s: unknown key%s %s (a settings file has a [settings] table)" % (
            path, "s" if len(extra) > 1 else "", ", ".join(extra)))
    values = doc.get("settings")
    if not isinstance(values, dict) or not values:
        raise UserError("%s has no [settings] table with settings in it" % path)
    check = S.Settings()
    try:
        check.check_update(values)
    except S.SettingsError as e:
        raise UserError("%s: %s; nothing was sent" % (path, e))
    return values


def dump(values, model=None, source=""):
    """TOML text of ``values`` in schema order, with where it came from."""
    ordered = dict((n, values[n]) for n in S.Settings().names() if n in values)
    head = "# BMS settings%s, exported %s by bmsctl. Import: bmsctl settings import --port P FILE\n" % (
        (" of " + source) if source else "", datetime.date.today().isoformat())
    doc = {}
    if model:
        doc["model"] = model
    doc["settings"] = ordered
    return head + tomli_w.dumps(doc)


def _value(text):
    # A command-line value as the setting's type: numbers as numbers, else the word.
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def run(a):
    """``bmsctl settings ACTION`` (``a``: the parsed arguments). Returns the exit status."""
    from host_tools import board_cmds as B
    if a.action == "check":
        values = load_file(a.file)
        print("%s: %d settings, all valid" % (a.file, len(values)))
        return 0
    if a.action == "export" and a.defaults:
        values = S.defaults()
        if a.model:
            try:
                M.profile(a.model)
            except ValueError as e:
                raise UserError(str(e))
            values = dict((n, v) for n, v in values.items() if M.setting_applies(a.model, n) is None)
        _write(a.file, dump(values, a.model, "the firmware's defaults"))
        return 0
    if a.action == "import":
        values = load_file(a.file)
        out = B.write_settings(a.port, values)
        print(out.rstrip())
        return 0 if not out.startswith("not changed") else 1
    if a.action == "set":
        try:
            S.schema_row(a.name)
        except S.SettingsError as e:
            raise UserError("%s (the names: bmsctl settings get --port %s)" % (e, a.port))
        out = B.diag(a.port, "set(%r, %r)" % (a.name, _value(a.value)))
        print(out.rstrip())
        return 0 if not out.startswith("not changed") else 1
    board = B.read_settings(a.port)
    values = board["settings"]
    if a.action == "get":
        names = [a.name] if a.name else S.Settings().names()
        for n in names:
            if n not in values:
                raise UserError("unknown setting %r (the names: bmsctl settings get --port %s)" % (n, a.port))
            print("%-26s %s" % (n, values[n]))
        return 0
    _write(a.file, dump(values, board["model"], "the board on %s" % a.port))
    return 0


def _write(path, text):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print("wrote %s" % path)
