"""firmware/ type-checks against micropython-esp32-stubs 1.27 and 1.29 (pyright)."""
import pytest

from host_tools.typecheck import run


@pytest.mark.parametrize("version", sorted(run.REQUIREMENTS))
def test_firmware_type_checks(version):
    code, out = run.check(version=version)
    assert code == 0, out
    assert "0 errors" in out


def test_a_misused_board_api_is_caught(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import machine\n"
                   "machine.ADC(machine.Pin(34)).read_uv(5)\n"
                   "machine.Pin(2, machine.Pin.OUT).value('on', 1)\n")
    code, out = run.check([str(bad)])
    assert code != 0
    assert "bad.py:2" in out and "bad.py:3" in out
