"""Helpers to run scenarios from tests."""
import copy

from host_tools import scenario as scen
from host_tools.sim import Simulation


def run(sc, link="memory", **kw):
    """Run scenario dict ``sc`` quietly; return the finished Simulation.

    ``interpreter="micropython"`` runs the firmware inside MicroPython 1.27.
    """
    sc = scen.check(copy.deepcopy(sc))
    sim = Simulation(sc, link=link, echo=None, **kw)
    sim.run()
    return sim


def low_bank(**kw):
    bank = {"series": 1, "parallel": 1, "cells": 4, "capacity_ah": 100, "soc_pct": 8, "seed": 3}
    bank.update(kw)
    return bank
