"""Faults on the ring, any number at once (docs/scenarios.md, ``fault`` / ``faults``).

| fault | what the ring does |
| --- | --- |
| ``unplug`` | the ring is open: nothing comes back |
| ``no_battery`` | the ring is closed with no battery on it |
| ``remove_battery`` | batteries ``battery`` (or the list ``batteries``) do not answer |
| ``bit_errors`` | each bit of an answer flips with probability ``bit_error_rate`` |
| ``garbage`` | random bytes arrive before each answer |
| ``stale`` | answers carry the previous poll's sequence number |
| ``drop`` | each answer is lost with probability ``drop_rate`` |
| ``intermittent`` | a loose contact: one answer gets through every ``answer_every_s`` |

The faults compose: ``faults = ["remove_battery", "drop"]`` loses battery 2's
record and a share of what is left. Seeded: runs repeat exactly.
"""
import random

from host_tools import ring

NAMES = ("none", "unplug", "no_battery", "remove_battery", "bit_errors", "garbage", "stale", "drop",
         "intermittent")
PARAMS = ("bit_error_rate", "battery", "batteries", "drop_rate", "answer_every_s")


class Faults:
    def __init__(self, seed):
        self.rng = random.Random(seed + 1000)
        self.active = set()
        self.params = {"bit_error_rate": 0.0, "battery": 1, "batteries": None, "drop_rate": 0.0,
                       "answer_every_s": 30.0}
        self._last_answer_ms = None

    def apply_step(self, st):
        if "fault" in st:
            self.active = set([st["fault"]]) - set(["none"])
        if "faults" in st:
            self.active = set(st["faults"]) - set(["none"])
        for key in PARAMS:
            if key in st:
                self.params[key] = st[key]

    def on(self, name):
        return name in self.active

    def missing(self):
        """0-based indexes of the batteries that do not answer."""
        if "no_battery" in self.active:
            return None                  # every battery
        if "remove_battery" not in self.active:
            return ()
        bats = self.params["batteries"] or [self.params["battery"]]
        return tuple(b - 1 for b in bats)

    def answer(self, out, seq, t_ms):
        """What of the answer ``out`` (a whole frame) reaches the BMS, or None."""
        on = self.active
        if "intermittent" in on:
            every = int(self.params["answer_every_s"] * 1000)
            if self._last_answer_ms is not None and t_ms - self._last_answer_ms < every:
                return None
            self._last_answer_ms = t_ms
        if "drop" in on and self.rng.random() < self.params["drop_rate"]:
            return None
        if "stale" in on:
            _, _, _, hop, payload = ring.parse(out)
            out = ring.raw_frame((seq - 1) & 0xFF, hop, payload)
        if "bit_errors" in on:
            rate = self.params["bit_error_rate"]
            b = bytearray(out)
            for i in range(len(b) * 8):
                if self.rng.random() < rate:
                    b[i // 8] ^= 1 << (i % 8)
            out = bytes(b)
        if "garbage" in on:
            out = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 40))) + out
        return out
