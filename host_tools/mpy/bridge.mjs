// A long-lived MicroPython (WebAssembly port) for the tests: one JSON request a
// line on stdin, one JSON answer a line on stdout.
//   {"op": "write", "path": "/lib/x.py", "data": "..."}  -> {"ok": true}
//   {"op": "write", "path": "/lib/x.mpy", "b64": "..."}  -> {"ok": true}  (binary files)
//   {"op": "run", "code": "..."}                         -> {"ok": bool, "out": "...", "error": "..."}
//   {"op": "reset"}                                      -> a fresh interpreter
// MPY_PACKAGE picks the interpreter: the pinned 1.27 (default) or "micropython-newest".
const { loadMicroPython } = await import(process.env.MPY_PACKAGE || "@micropython/micropython-webassembly-pyscript");
import { mpCrypto } from "./mp_crypto.mjs";
import { createInterface } from "node:readline";

let out = "";
let mp = null;
const files = new Map();

async function fresh(heapsize) {
  mp = await loadMicroPython({
    heapsize: heapsize || 2 * 1024 * 1024,
    stdout: (s) => { out += s + "\n"; },
    stderr: (s) => { out += s + "\n"; },
  });
  mp.registerJsModule("mp_crypto", mpCrypto);
  // The host's clock in µs (this port's ticks_us counts whole ms): for tick timings.
  mp.registerJsModule("host_clock", { now_us: () => Math.round(performance.now() * 1000) % 1073741824 });
  mkdirs("/lib/x");
  for (const [path, data] of files) mp.FS.writeFile(path, data);
}

function mkdirs(path) {
  let cur = "";
  for (const part of path.split("/").slice(1, -1)) {
    cur += "/" + part;
    try { mp.FS.mkdir(cur); } catch (e) { /* exists */ }
  }
}

await fresh();
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const req = JSON.parse(line);
  let ans;
  try {
    if (req.op === "write") {
      const data = req.b64 !== undefined ? new Uint8Array(Buffer.from(req.b64, "base64")) : req.data;
      files.set(req.path, data);
      mkdirs(req.path);
      mp.FS.writeFile(req.path, data);
      ans = { ok: true };
    } else if (req.op === "run") {
      out = "";
      try {
        mp.runPython(req.code);
        ans = { ok: true, out };
      } catch (e) {
        ans = { ok: false, out, error: String(e.message || e) };
      }
    } else if (req.op === "reset") {
      await fresh(req.heapsize);
      ans = { ok: true };
    } else {
      ans = { ok: false, error: "unknown op " + req.op };
    }
  } catch (e) {
    ans = { ok: false, error: String(e && e.stack || e) };
  }
  process.stdout.write(JSON.stringify(ans) + "\n");
}
