"""CPython stand-in for MicroPython's ``cryptolib`` (the AES of the ESP32 port).

Built on the ``cryptography`` package. Like a stock ESP32 build it offers ECB
(mode 1) and CBC (mode 2) and raises ``ValueError`` for CTR (mode 6), so the
firmware cannot come to rely on a mode the board lacks.
"""
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MODE_ECB = 1
MODE_CBC = 2


class aes:  # noqa: N801 - MicroPython's name
    def __init__(self, key, mode, IV=None):  # noqa: N803
        if len(key) not in (16, 32):
            raise ValueError("key")
        if mode == MODE_ECB:
            self._enc = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()
        elif mode == MODE_CBC:
            self._enc = Cipher(algorithms.AES(bytes(key)), modes.CBC(bytes(IV or bytes(16)))).encryptor()
        else:
            raise ValueError("mode")

    def encrypt(self, in_buf, out_buf=None):
        if len(in_buf) % 16:
            raise ValueError("blksize")
        data = self._enc.update(bytes(in_buf))
        if out_buf is None:
            return data
        out_buf[:len(data)] = data
        return None
