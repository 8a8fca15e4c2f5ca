"""A virtual clock with the ``time`` module's tick API.

``ticks_ms()`` wraps at 2**30 like the ESP32's, and can start just before the wrap
so every run crosses it. ``sleep_ms(ms)`` advances virtual time and calls
``on_advance(dt_ms)`` so the simulator moves the world while the firmware sleeps.
"""
TICKS_PERIOD = 1 << 30


class VirtualClock:
    def __init__(self, start_ticks=0, on_advance=None):
        self.elapsed_ms = 0          # unwrapped ms since the clock was made
        self._start = start_ticks
        self.on_advance = on_advance

    def ticks_ms(self):
        return (self._start + self.elapsed_ms) % TICKS_PERIOD

    def ticks_add(self, t, d):
        return (t + d) % TICKS_PERIOD

    def ticks_diff(self, a, b):
        half = TICKS_PERIOD // 2
        return ((a - b + half) % TICKS_PERIOD) - half

    def advance(self, ms):
        self.elapsed_ms += ms
        if self.on_advance is not None:
            self.on_advance(ms)

    def sleep_ms(self, ms):
        if ms > 0:
            self.advance(ms)

    def sleep(self, s):
        self.sleep_ms(int(s * 1000))
