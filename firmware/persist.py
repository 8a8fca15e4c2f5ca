"""Settings and history on the board's flash (behaviour §5, §9; docs/persistence.md).

Documents are versioned; older versions are migrated on load. Corrupt or missing
settings mean defaults and E-B31 (behaviour §7, §9), never a crash; the file is
left as it was for diagnosis until the next save replaces it. Writes are rate
limited to spare the flash: settings at most every ``SETTINGS_MIN_GAP_MS`` after a
change, history every ``HISTORY_GAP_MS`` when it changed (and soon after a full
charge).
"""
from micropython import const

import store

SETTINGS_FILE = "settings.json"
HISTORY_FILE = "history.json"
SETTINGS_VERSION = 2
HISTORY_VERSION = 1
SETTINGS_MIN_GAP_MS = const(10000)
HISTORY_GAP_MS = const(900000)       # 15 minutes: at most 96 history writes a day
HISTORY_SOON_MS = const(60000)       # after a full charge, within a minute


def settings_doc(settings):
    values = {}
    for name in settings.names():
        values[name] = settings.get(name)
    return {"kind": "settings", "version": SETTINGS_VERSION, "values": values}


def migrate_settings(doc):
    """Bring a stored settings document to the current version; ValueError if unknown.

    Version 1 was a flat object of setting values (what early builds wrote and
    what a person writes by hand); version 2 wraps it with kind and version.
    """
    if isinstance(doc, dict) and "version" not in doc:
        doc = {"kind": "settings", "version": 1, "values": doc}
    if not isinstance(doc, dict) or doc.get("kind") != "settings":
        raise ValueError("not a settings document")
    if doc["version"] == 1:
        doc = {"kind": "settings", "version": 2, "values": doc["values"]}
    if doc["version"] != SETTINGS_VERSION or not isinstance(doc.get("values"), dict):
        raise ValueError("settings version %r is not known" % (doc.get("version"),))
    return doc


def load_settings(fs, settings):
    """Load into ``settings``; return a ``store`` status. On anything but OK the
    settings are the defaults. Unknown names (from a newer build) are ignored."""
    doc, status = store.load(fs, SETTINGS_FILE)
    if doc is None:
        settings.reset_defaults()
        return status
    try:
        doc = migrate_settings(doc)
        known = settings.names()
        values = {}
        for name in doc["values"]:
            if name in known:
                values[name] = doc["values"][name]
        settings.reset_defaults()
        settings.update(values)
    except ValueError:                 # SettingsError is a ValueError
        settings.reset_defaults()
        return store.CORRUPT
    return store.OK


def load_history(fs, history):
    doc, status = store.load(fs, HISTORY_FILE)
    if doc is None:
        return status
    try:
        if doc.get("kind") != "history" or doc.get("version") != HISTORY_VERSION:
            raise ValueError("unknown history document")
        history.restore(doc["values"])
    except (ValueError, AttributeError, KeyError, TypeError):
        history.clear()
        return store.CORRUPT
    return store.OK


class Persister:
    """Saves settings and history when due. ``tick(dt_ms)`` from the control loop
    (it only compares counters unless a write is due). ``settings_status`` is the
    load status until the first good save."""

    def __init__(self, fs, settings, history, settings_status=store.OK):
        self.fs = fs
        self.settings = settings
        self.history = history
        self.settings_status = settings_status
        # Only a change made after boot (or a factory reset) is saved: a corrupt
        # file stays on flash, and E-B31 stays up, until the user acts.
        self._saved_version = settings.version
        self._settings_ms = SETTINGS_MIN_GAP_MS
        self._history_ms = 0
        self._history_due_ms = HISTORY_GAP_MS
        self.writes = 0

    def full_charge(self):
        """A full charge happened: save the history within a minute."""
        if self._history_due_ms > HISTORY_SOON_MS:
            self._history_due_ms = HISTORY_SOON_MS
            self._history_ms = 0

    def save_settings_now(self):
        store.save(self.fs, SETTINGS_FILE, settings_doc(self.settings))
        self._saved_version = self.settings.version
        self.settings_status = store.OK
        self._settings_ms = 0
        self.writes += 1

    def save_history_now(self):
        store.save(self.fs, HISTORY_FILE,
                   {"kind": "history", "version": HISTORY_VERSION, "values": self.history.as_dict()})
        self.history.changed = False
        self._history_ms = 0
        self._history_due_ms = HISTORY_GAP_MS
        self.writes += 1

    def tick(self, dt_ms):
        if self._settings_ms < SETTINGS_MIN_GAP_MS:
            self._settings_ms += dt_ms
        elif self.settings.version != self._saved_version:
            self.save_settings_now()
        if self.history.changed:
            self._history_ms += dt_ms
            if self._history_ms >= self._history_due_ms:
                self.save_history_now()
