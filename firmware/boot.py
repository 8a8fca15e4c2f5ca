"""Runs first at every reset: every output to its safe (off) state at once.

The ESP32 leaves GPIOs floating through reset; the gate drivers' pull-downs hold
them off, and this drives them off explicitly. ``loader.boot`` first picks the
application slot (an update's trial boot is counted, a failed one rolled back:
docs/update.md) so the pins come from that slot's board file; an output the
update held on stays held until the new version decides. ``main.py`` then
keeps the outputs off until the first valid bank reading.
"""
import loader

loader.boot()
