// AES and random bytes for the WebAssembly MicroPython, from Node's crypto
// (OpenSSL): the JS side of host_tools/mpy/cryptolib.py. The ESP32 port has
// cryptolib in C; this port has none, so the same firmware gets it from here.
import { createCipheriv, randomBytes } from "node:crypto";

export const mpCrypto = {
  // One or more 16-byte blocks, AES-128/256-ECB, hex in and out.
  aes_ecb: (keyHex, dataHex) => {
    const key = Buffer.from(keyHex, "hex");
    const c = createCipheriv(key.length === 32 ? "aes-256-ecb" : "aes-128-ecb", key, null);
    c.setAutoPadding(false);
    return Buffer.concat([c.update(Buffer.from(dataHex, "hex")), c.final()]).toString("hex");
  },
  urandom_hex: (n) => randomBytes(n).toString("hex"),
};
