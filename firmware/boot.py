"""Runs first at every reset: every output to its safe (off) state at once.

The ESP32 leaves GPIOs floating through reset; the gate drivers' pull-downs hold
them off, and this drives them off explicitly before anything else is imported.
``main.py`` then keeps them off until the first valid bank reading.
"""
import hw

hw.safe_pins("board.json")
