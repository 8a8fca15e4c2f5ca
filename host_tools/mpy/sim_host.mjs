// Runs the firmware's main loop inside MicroPython (WebAssembly port) in lockstep
// with the CPython simulator. Protocol on stdin/stdout, one JSON object a line:
//   host -> {"files": {"/lib/x.py": "..."}, "config": "<json for sim_driver.start>"}
//   then, per control tick: node -> {"sleep_ms", "snap", "sent", "outputs"}
//                           host -> {"rx", "adc", "soft_switch", "settings", "go"}
//   at the end: node -> {"done": true} or {"error": "<traceback>"}
// MicroPython's own printing goes to stderr so it cannot break the protocol.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import { readSync, writeSync } from "node:fs";

let pending = Buffer.alloc(0);
function readLine() {
  for (;;) {
    const i = pending.indexOf(10);
    if (i >= 0) {
      const line = pending.subarray(0, i).toString("utf8");
      pending = pending.subarray(i + 1);
      return line;
    }
    const buf = Buffer.alloc(65536);
    let n;
    try { n = readSync(0, buf, 0, buf.length, null); }
    catch (e) { if (e.code === "EAGAIN") continue; throw e; }
    if (n === 0) process.exit(0);
    pending = Buffer.concat([pending, buf.subarray(0, n)]);
  }
}
function send(text) { writeSync(1, text + "\n"); }

const mp = await loadMicroPython({ heapsize: 8 * 1024 * 1024, stdout: (s) => process.stderr.write(s + "\n"),
                                   stderr: (s) => process.stderr.write(s + "\n") });
const init = JSON.parse(readLine());
for (const [path, data] of Object.entries(init.files)) {
  let cur = "";
  for (const part of path.split("/").slice(1, -1)) { cur += "/" + part; try { mp.FS.mkdir(cur); } catch (e) {} }
  mp.FS.writeFile(path, data);
}
// Each step is its own entry into MicroPython: this port frees garbage only
// between entries (sim_driver.start's docstring).
mp.registerJsModule("simhost", { exchange: (text) => { send(text); return readLine(); } });
mp.globals.set("_config", init.config);
try {
  mp.runPython("import sim_driver");
  const driver = mp.pyimport("sim_driver");
  const start = driver.start, step = driver.step;
  let out = start(init.config);
  for (;;) {
    send(out);
    if (out.startsWith('{"done"')) break;
    out = step(readLine());
  }
} catch (e) {
  send(JSON.stringify({ error: String(e.message || e) }));
}
