"""host_tools/pin_mock.py refuses what the ESP32 refuses and records timing."""
import pytest

from host_tools.vclock import VirtualClock


def test_refusals(pin_mock):
    m = pin_mock
    with pytest.raises(ValueError, match="input-only"):
        m.Pin(34, m.Pin.OUT)
    for flash in (6, 7, 8, 9, 10, 11):
        with pytest.raises(ValueError, match="flash"):
            m.Pin(flash)
    with pytest.raises(ValueError, match="invalid pin"):
        m.Pin(24)
    with pytest.raises(ValueError, match="duty_u16"):
        m.PWM(m.Pin(25, m.Pin.OUT), freq=1000, duty_u16=65536)
    with pytest.raises(ValueError, match="duty_u16"):
        m.PWM(m.Pin(25, m.Pin.OUT), duty_u16=-1)
    with pytest.raises(ValueError, match="no ADC"):
        m.ADC(m.Pin(5))
    with pytest.raises(ValueError, match="UART"):
        m.UART(3)
    with pytest.raises(ValueError, match="input-only"):
        m.UART(1, tx=35, rx=34)
    with pytest.raises(OSError):
        m.Pin(4, m.Pin.IN).value(1)


def test_allowed_uses(pin_mock):
    m = pin_mock
    m.Pin(34, m.Pin.IN)
    m.PWM(m.Pin(25, m.Pin.OUT), freq=1000, duty_u16=65535)
    adc = m.ADC(m.Pin(35), atten=m.ADC.ATTN_11DB)
    m.set_adc_mv(35, 1500)
    assert adc.read_uv() == 1500000
    m.set_adc_mv(35, 5000)                       # clipped at full scale
    assert adc.read_uv() == 3100000


def test_transitions_are_recorded_with_the_clock_time():
    clock = VirtualClock(start_ticks=0)
    import host_tools
    m = host_tools.use_firmware("esp32", clock)
    p = m.Pin(25, m.Pin.OUT, value=0)
    clock.advance(150)
    p.value(1)
    p.value(1)                                   # no change, no record
    clock.advance(50)
    p.off()
    assert m.pin_transitions(25) == [(0, 0), (150, 1), (200, 0)]


def test_other_chips(pin_mock):
    import host_tools
    m = host_tools.use_firmware("esp32c3")
    with pytest.raises(ValueError):
        m.Pin(22)
    m = host_tools.use_firmware("esp32s3")
    m.Pin(38, m.Pin.OUT)                         # S3 has no input-only pins
    with pytest.raises(ValueError, match="unknown chip"):
        host_tools.use_firmware("esp8266")
