// The virtual board: MicroPython (WebAssembly port) with its REPL on stdin/stdout
// as raw bytes. host_tools/vboard.py puts a pseudo-terminal in front of it so
// mpremote can connect. Files written into the interpreter's filesystem survive a
// soft reboot (Ctrl-D), which starts a fresh interpreter as a real board does.
// A BMS started with vboard_rt.start() is ticked every 100 ms between REPL input.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import { mpCrypto } from "./mp_crypto.mjs";
import { readFileSync, writeFileSync, mkdirSync, readdirSync, statSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";

const preload = process.argv.slice(2);  // "source-path:name" pairs: files put into /lib
// Output relay. This port numbers errors as WASI does ("OSError: 44"), where an
// ESP32 prints "OSError: [Errno 2] ENOENT"; mpremote reads that wording to tell
// "no such file" from a failure, so those lines are rewritten to the board's.
const WASI_ERRNO = { 44: "[Errno 2] ENOENT", 20: "[Errno 17] EEXIST", 54: "[Errno 20] ENOTDIR",
                     31: "[Errno 21] EISDIR", 55: "[Errno 39] ENOTEMPTY", 28: "[Errno 22] EINVAL" };
const PREFIX = Buffer.from("OSError: ");
let held = [];
// A board's REPL ends its lines in \r\n (MicroPython's "cooked" output): a lone
// \n becomes \r\n, so a terminal (mpremote repl) does not staircase. mpremote
// reads files as repr()/hex text, so this never touches file bytes.
let lastByte = 0;
function emit(bytes) {
  if (!bytes.length) return;
  const outb = [];
  for (const b of bytes) {
    if (b === 10 && lastByte !== 13) outb.push(13);
    outb.push(b);
    lastByte = b;
  }
  process.stdout.write(Buffer.from(outb));
}
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
let pendingReset = false;               // machine.reset() was called: a hard reset follows
// VBOARD_FS: a host folder that holds the board's filesystem across runs of the
// virtual board (its flash): read at start, written at every reset and at exit.
const hostFs = process.env.VBOARD_FS || "";

function loadHostFs(dir, base, acc) {
  if (!dir || !existsSync(dir)) return acc;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const rel = base + "/" + name;
    if (statSync(p).isDirectory()) loadHostFs(p, rel, acc);
    else acc.set(rel, readFileSync(p));
  }
  return acc;
}

function saveHostFs() {
  if (!hostFs || !mp) return;
  for (const [p, data] of walk("/", "/", new Map())) {
    const target = join(hostFs, p);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
  }
}

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

async function boot(raw, startBms) {
  if (mp) { saved = walk("/", "/", new Map()); saveHostFs(); }
  else saved = loadHostFs(hostFs, "", new Map());
  mp = await loadMicroPython({ heapsize: 4 * 1024 * 1024, linebuffer: false, stdout: out, stderr: out });
  tickFn = null;
  // vboard_rt.start() hands its tick function over; calling it through the proxy
  // keeps the REPL's globals intact (runPython from a timer would swap them).
  mp.registerJsModule("mp_crypto", mpCrypto);
  mp.registerJsModule("vboard_host", { start_ticking: (fn) => { tickFn = fn; },
                                       now_us: () => Math.round(performance.now() * 1000) % 1073741824,
                                       hard_reset: () => { pendingReset = true; } });
  for (const [p, data] of saved) {
    const parts = p.split("/").slice(1, -1);
    let cur = "";
    for (const part of parts) { cur += "/" + part; try { mp.FS.mkdir(cur); } catch (e) {} }
    mp.FS.writeFile(p, data);
  }
  try { mp.FS.mkdir("/lib"); } catch (e) {}
  for (const pair of preload) {          // the board's own modules: always the host's current ones
    const i = pair.lastIndexOf(":");
    mp.FS.writeFile("/lib/" + pair.slice(i + 1), readFileSync(pair.slice(0, i)));
  }
  // machine.reset() is a hard reset, as on a board (mpremote reset calls it).
  mp.runPython("import machine, vboard_host\nmachine.reset = vboard_host.hard_reset\ndel machine, vboard_host");
  if (startBms) {
    // A board runs boot.py and main.py after a reset (not after a soft reset in
    // the raw REPL): here vboard_rt.boot() does what they do, if they are deployed.
    try { mp.runPython("import vboard_rt\nvboard_rt.boot()\ndel vboard_rt"); }
    catch (e) { out("BMS not started: " + String(e && e.message || e).trim().split("\n").pop() + "\n"); }
  }
  mp.replInit();
  if (raw) await mp.replProcessCharWithAsyncify(1);   // back to the raw REPL, as after a soft reboot
}

await boot(false, true);
process.on("SIGTERM", () => { try { saveHostFs(); } finally { process.exit(0); } });
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
      if (pendingReset) {                        // machine.reset(): a hard reset, main.py runs
        pendingReset = false;
        rawMode = false;
        out("\r\n");
        await boot(false, true);
        out("MicroPython (virtual board) after a hard reset\r\n>>> ");
        break;
      }
      if (r) {                                   // Ctrl-D: soft reboot
        out("MPY: soft reboot\r\n");
        await boot(rawMode, !rawMode);           // at the friendly prompt main.py runs, in the raw REPL not
      }
    }
  });
});
process.stdin.on("end", () => { try { saveHostFs(); } finally { process.exit(0); } });
setInterval(() => {
  if (!tickFn) return;
  busy = busy.then(() => {
    try { tickFn(); } catch (e) { process.stderr.write("vboard tick: " + e + "\n"); tickFn = null; }
  });
}, 100);
