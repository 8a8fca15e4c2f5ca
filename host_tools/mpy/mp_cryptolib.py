"""``cryptolib`` (loaded under that name) for the WebAssembly MicroPython (which has none): AES-ECB from
Node's crypto through the registered JS module ``mp_crypto``
(``host_tools/mpy/mp_crypto.mjs``). Like a stock ESP32 build: ECB (mode 1) only
here, ``ValueError`` for other modes. Allocates (a test stand-in; the board's is C).
"""
import binascii

import mp_crypto


class aes:  # noqa: N801 - MicroPython's name
    def __init__(self, key, mode, IV=None):  # noqa: N803
        if mode != 1:
            raise ValueError("mode")
        if len(key) not in (16, 32):
            raise ValueError("key")
        self._key = binascii.hexlify(bytes(key)).decode()

    def encrypt(self, in_buf, out_buf=None):
        if len(in_buf) % 16:
            raise ValueError("blksize")
        data = binascii.unhexlify(mp_crypto.aes_ecb(self._key, binascii.hexlify(bytes(in_buf)).decode()))
        if out_buf is None:
            return data
        for i in range(len(data)):
            out_buf[i] = data[i]
        return None


def urandom(n):
    """``n`` random bytes (the port's ``os`` has no ``urandom``)."""
    return binascii.unhexlify(mp_crypto.urandom_hex(n))
