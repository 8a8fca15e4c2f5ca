"""The virtual board with Bluetooth: the firmware advertises into the mock radio,
phones pair and send commands, and the tick keeps its period (host_tools/bench_ble.py)."""
import pytest

from host_tools import mpy_bridge

pytestmark = pytest.mark.skipif(not mpy_bridge.available(), reason="needs node and the WebAssembly MicroPython")


def test_virtual_board_serves_four_phones_and_keeps_its_tick():
    from host_tools import bench_ble
    res = bench_ble.run(seconds=2)
    radio = res["phases"]["radio"]
    assert radio["ble_state"] == 2                     # connected
    assert radio["commands_ok"] >= 4 and radio["refused"] == 0
    assert radio["notifies"] > 0 and radio["adverts"] >= 2
    for name in ("off", "advertising", "four_phones"):
        p = res["phases"][name]
        assert p["period"]["n"] >= 10
        assert 90 <= p["period"]["mean_ms"] <= 110     # the 100 ms tick, on a Node timer
    assert res["phases"]["off"]["radio_events"] is None
    assert res["phases"]["four_phones"]["radio_events"]["n"] >= 4
