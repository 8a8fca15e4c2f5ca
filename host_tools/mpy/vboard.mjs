// The virtual board: MicroPython (WebAssembly port) with its REPL on stdin/stdout
// as raw bytes. host_tools/vboard.py puts a pseudo-terminal in front of it so
// mpremote can connect. Files written into the interpreter's filesystem survive a
// soft reboot (Ctrl-D), which starts a fresh interpreter as a real board does.
// A BMS started with vboard_rt.start() is ticked every 100 ms between REPL input.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import { mpCrypto } from "./mp_crypto.mjs";
import { readFileSync } from "node:fs";

const preload = process.argv.slice(2);  // "source-path:name" pairs: files put into /lib
// Output relay. This port numbers errors as WASI does ("OSError: 44"), where an
// ESP32 prints "OSError: [Errno 2] ENOENT"; mpremote reads that wording to tell
// "no such file" from a failure, so those lines are rewritten to the board's.
const WASI_ERRNO = { 44: "[Errno 2] ENOENT", 20: "[Errno 17] EEXIST", 54: "[Errno 20] ENOTDIR",
                     31: "[Errno 21] EISDIR", 55: "[Errno 39] ENOTEMPTY", 28: "[Errno 22] EINVAL" };
const PREFIX = Buffer.from("OSError: ");
let held = [];
function emit(bytes) { if (bytes.length) process.stdout.write(Buffer.from(bytes)); }
function out(data) {
  if (typeof data === "string") data = Buffer.from(data, "latin1");
  for (const c of data) {
    held.push(c);
    const n = held.length;
    if (n <= PREFIX.length) {
      if (held[n - 1] !== PREFIX[n - 1]) { emit(held); held = []; }
      continue;
    }
    if (c === 10) {
      const text = Buffer.from(held).toString("latin1");
      const m = /^OSError: (\d+)(\r?\n)$/.exec(text);
      emit(m && WASI_ERRNO[m[1]] ? Buffer.from("OSError: " + WASI_ERRNO[m[1]] + m[2], "latin1") : held);
      held = [];
    } else if (n > 40) { emit(held); held = []; }
  }
  if (held.length && held[0] !== PREFIX[0]) { emit(held); held = []; }
}
let mp = null;
let tickFn = null;
let saved = new Map();                  // path -> bytes, carried over a soft reboot

function walk(dir, base, acc) {
  for (const name of mp.FS.readdir(dir)) {
    if (name === "." || name === "..") continue;
    const p = (dir === "/" ? "" : dir) + "/" + name;
    if (["/dev", "/proc", "/tmp", "/home"].includes(p)) continue;
    const st = mp.FS.stat(p);
    if (mp.FS.isDir(st.mode)) walk(p, base, acc);
    else acc.set(p, mp.FS.readFile(p));
  }
  return acc;
}

async function boot(raw) {
  if (mp) saved = walk("/", "/", new Map());
  mp = await loadMicroPython({ heapsize: 4 * 1024 * 1024, linebuffer: false, stdout: out, stderr: out });
  tickFn = null;
  // vboard_rt.start() hands its tick function over; calling it through the proxy
  // keeps the REPL's globals intact (runPython from a timer would swap them).
  mp.registerJsModule("mp_crypto", mpCrypto);
  mp.registerJsModule("vboard_host", { start_ticking: (fn) => { tickFn = fn; },
                                       now_us: () => Math.round(performance.now() * 1000) % 1073741824 });
  for (const [p, data] of saved) {
    const parts = p.split("/").slice(1, -1);
    let cur = "";
    for (const part of parts) { cur += "/" + part; try { mp.FS.mkdir(cur); } catch (e) {} }
    mp.FS.writeFile(p, data);
  }
  if (saved.size === 0) {
    try { mp.FS.mkdir("/lib"); } catch (e) {}
    for (const pair of preload) {
      const i = pair.lastIndexOf(":");
      mp.FS.writeFile("/lib/" + pair.slice(i + 1), readFileSync(pair.slice(0, i)));
    }
  }
  mp.replInit();
  if (raw) await mp.replProcessCharWithAsyncify(1);   // back to the raw REPL, as after a soft reboot
}

await boot(false);
let busy = Promise.resolve();
let rawMode = false;
let skip = 0;   // bytes of a raw-paste request still to swallow
process.stdin.on("data", (data) => {
  busy = busy.catch((e) => process.stderr.write("vboard: " + (e && e.stack || e) + "\n")).then(async () => {
    for (const c of data) {
      if (skip) { skip--; continue; }
      if (rawMode && c === 5) {
        // Raw-paste request (Ctrl-E 'A' Ctrl-A). This build's event-driven REPL
        // stalls in raw-paste mode, so answer "understood, not supported":
        // mpremote then uses the plain raw REPL, which works.
        out(new Uint8Array([0x52, 0x00]));
        skip = 2;
        continue;
      }
      if (c === 1) rawMode = true;
      if (c === 2) rawMode = false;
      const r = await mp.replProcessCharWithAsyncify(c);
      if (r) {                                   // Ctrl-D: soft reboot
        out("MPY: soft reboot\r\n");
        await boot(rawMode);
      }
    }
  });
});
process.stdin.on("end", () => process.exit(0));
setInterval(() => {
  if (!tickFn) return;
  busy = busy.then(() => {
    try { tickFn(); } catch (e) { process.stderr.write("vboard tick: " + e + "\n"); tickFn = null; }
  });
}, 100);
