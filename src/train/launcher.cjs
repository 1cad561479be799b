// The trainer launcher (see process.ts): a small plain-JS child of the server, forked once while the
// server is still small, that starts the trainer processes. Why not fork trainers from the server:
// fork() copies the forking process's page tables, and for a server holding a few hundred MB that
// held its event loop for 33–209 ms per run start (measured), a stall every subscriber feels. Forking
// from this process (tens of MB) is cheap, and the server's event loop never waits for it.
//
// Each trainer gets a socket pair on fd 3 (libuv makes "pipe" stdio a UNIX socket pair). This
// process hands the server its end with the "spawned" message (Node passes the descriptor over the
// IPC channel and closes its own copy), so rows and checkpoints flow between trainer and server
// directly, never through here. This process keeps the trainer's stderr tail and reports its exit
// (code, signal, last stderr) with an "exit" message, from which the server names the cause of death.
//
// One spare trainer is kept ready (loading tsx, the compiler and onnxruntime takes 0.3–1 s of CPU);
// it is started when a trainer exits, between runs, so that its start-up never lands on a training
// run. When the server goes away (the IPC channel closes), this process kills the spare and leaves;
// trainers in use see their socket close and leave by themselves.
const { spawn } = require("node:child_process");

const [loader, entry] = process.argv.slice(2);
/** Bytes of a trainer's stderr kept for its exit report. */
const STDERR_TAIL = 4096;

/** @typedef {{ child: import("node:child_process").ChildProcess, id: number | null, stderr: string }} Trainer */

/** @type {Trainer | null} */
let spare = null;

/** @returns {Trainer} */
function start() {
  const child = spawn(process.execPath, ["--import", loader, entry], {
    stdio: ["ignore", "inherit", "pipe", "pipe"],
  });
  /** @type {Trainer} */
  const t = { child, id: null, stderr: "" };
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (s) => {
    process.stderr.write(s);
    t.stderr = (t.stderr + s).slice(-STDERR_TAIL);
  });
  child.on("error", () => {});
  // The exit is reported once the process has exited and its stderr has been read to the end. (Not
  // "close": that also waits for fd 3's stream here, whose handle went to the server.)
  const stderrDone = new Promise((resolve) => child.stderr.once("close", resolve));
  child.once("exit", async (code, signal) => {
    await stderrDone;
    if (t.id === null) {
      if (spare === t) spare = null;
      return;
    }
    if (process.connected) process.send({ type: "exit", id: t.id, code, signal, stderr: t.stderr });
    spare ??= start();
  });
  return t;
}

process.on("message", (m) => {
  if (m.type !== "spawn") return;
  let t = spare;
  spare = null;
  if (!t || t.child.exitCode !== null || t.child.signalCode !== null) {
    t?.child.kill("SIGKILL");
    t = start();
  }
  t.id = m.id;
  if (t.child.pid === undefined) {
    process.send({ type: "failed", id: m.id, message: "could not start a trainer process" });
    return;
  }
  process.send({ type: "spawned", id: m.id, pid: t.child.pid }, t.child.stdio[3]);
});

process.on("disconnect", () => {
  spare?.child.kill("SIGKILL");
  process.exit(0);
});
