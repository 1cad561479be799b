// A trainer in a child process (one per run): onnxruntime's native code then runs where its crash
// cannot take the server down. An abort ("terminate called after throwing an instance of
// 'Napi::Error'"), a segfault or the out-of-memory killer ends the child; the server sees the socket
// close without a last word and fails the run with the signal or exit code and the child's last
// stderr lines. The messages are those of a worker thread (src/train/protocol.ts), as frames
// (frames.ts) over a socket between the server and the trainer.
//
// Trainers are started by a launcher (launcher.cjs), a small child forked once, before the first run,
// rather than forked from the server: fork() of a large process holds its event loop for tens to
// hundreds of ms. The launcher hands the server the trainer's end of a socket pair and reports the
// trainer's exit; it keeps one spare trainer loaded between runs. The trainer is
// `node --import tsx trainer-process.ts`, like the provider probe (provider-probe.cjs) but long-lived;
// it leaves by itself after its last message, and when the server goes away (its socket closes) it
// exits too, so no trainer outlives its server.
import { type ChildProcess, fork } from "node:child_process";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { tsxLoaderUrl } from "../worker-bootstrap.ts";
import { readFrames, writeFrame } from "./frames.ts";
import {
  type HostLink,
  type HostMessage,
  hostTraining,
  type TrainingRun,
  type WorkerMessage,
} from "./protocol.ts";
import type { TrainJob } from "./runner.ts";

const ENTRY = fileURLToPath(new URL("./trainer-process.ts", import.meta.url));
const LAUNCHER = fileURLToPath(new URL("./launcher.cjs", import.meta.url));

const SIGNALS: Record<string, string> = {
  SIGSEGV: "a segmentation fault in native code",
  SIGABRT: "an abort in native code",
  SIGBUS: "a bus error in native code",
  SIGILL: "an illegal instruction",
  SIGFPE: "a floating-point exception",
  SIGKILL: "killed, e.g. by the out-of-memory killer",
  SIGTERM: "terminated from outside",
};

/**
 * The failure message of a trainer that died without saying why: the signal (with what it usually
 * means) or the exit code, then the last lines it wrote to stderr.
 */
export function trainerDeathMessage(code: number | null, signal: string | null, stderr: string): string {
  const how = signal
    ? `was killed by ${signal} (${SIGNALS[signal] ?? "a signal"})`
    : `exited with code ${code ?? "unknown"}`;
  const last = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-3)
    .join(" | ")
    .slice(-400);
  return `the trainer process ${how}${last ? `; its last output: ${last}` : ""}`;
}

/** Whether an error is the death of a trainer process (see trainerDeathMessage). */
export function isTrainerCrash(err: unknown): boolean {
  return err instanceof Error && err.name === "TrainerCrash";
}

interface ExitReport {
  code: number | null;
  signal: string | null;
  stderr: string;
}

/** A trainer process as the launcher handed it over: its socket, pid and (later) exit report. */
interface Spawned {
  socket: Socket;
  pid: number;
  exit: Promise<ExitReport>;
}

type LauncherMessage =
  | { type: "spawned"; id: number; pid: number }
  | { type: "failed"; id: number; message: string }
  | ({ type: "exit"; id: number } & ExitReport);

interface Pending {
  spawned?: { resolve(s: Spawned): void; reject(err: Error): void };
  exited(report: ExitReport): void;
}

/**
 * glibc malloc settings for the launcher and the trainers it starts (a user's own MALLOC_* and GLIBC_TUNABLES win). A
 * fresh trainer process hands freed multi-MB buffers (each chunk's feeds) back to the kernel and
 * faults them in again: on this project's 2-core VM a page fault costs ~12 µs, and a seed-CNN trainer
 * took twice the minor faults of a worker thread in a long-lived process (~21k vs ~11k over 490 steps)
 * and ran 5–19% slower. Keeping buffers under 64 MB on the heap and trimming only past 512 MB brought
 * the faults level (~11k) and the speed within noise of the thread. glibc.malloc.hugetlb=1 backs the
 * large blocks (a decoded dataset) with transparent huge pages, one fault per 2 MB: a seed-CNN run's
 * set-up (393 MB of synthetic images) took 2.5–3.0 s instead of 3.5–4.7 s. A trainer's memory is
 * returned when its run ends: the process exits.
 */
const TRAINER_MALLOC = {
  MALLOC_MMAP_THRESHOLD_: "67108864",
  MALLOC_TRIM_THRESHOLD_: "536870912",
  GLIBC_TUNABLES: "glibc.malloc.hugetlb=1",
};

/** The launcher of this process (one, shared by every run manager in it), with its pending trainers. */
let launcher: { child: ChildProcess; pending: Map<number, Pending> } | null = null;
let nextId = 0;
/** Spawn requests not yet answered: while there are any, the launcher's channel keeps this process up. */
let waiting = 0;

/** One spawn request answered: the last one lets the launcher's channel stop keeping this process up. */
function answered(child: ChildProcess): void {
  if (--waiting === 0) child.channel?.unref();
}

function theLauncher(): { child: ChildProcess; pending: Map<number, Pending> } {
  if (launcher?.child.connected) return launcher;
  const child = fork(LAUNCHER, [tsxLoaderUrl(), ENTRY], {
    // Plain JavaScript, none of the server's flags: fork() would pass on `--import tsx` (0.25 s of CPU
    // and 35 MB of resident memory the launcher never uses) and `--inspect` (a second inspector on the
    // server's port).
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...TRAINER_MALLOC, ...process.env },
  });
  const pending = new Map<number, Pending>();
  const me = { child, pending };
  launcher = me;
  // Idle, the launcher keeps neither this process nor its event loop alive (a run's socket does).
  child.unref();
  child.channel?.unref();
  child.on("error", () => {});
  child.on("message", (m: LauncherMessage, handle: unknown) => {
    const p = pending.get(m.id);
    if (!p) return;
    if (m.type === "spawned") {
      const { resolve } = p.spawned ?? {};
      p.spawned = undefined;
      answered(child);
      const exit = new Promise<ExitReport>((r) => {
        p.exited = r;
      });
      resolve?.({ socket: handle as Socket, pid: m.pid, exit });
    } else if (m.type === "failed") {
      pending.delete(m.id);
      answered(child);
      p.spawned?.reject(new Error(`the trainer launcher ${m.message}`));
    } else {
      pending.delete(m.id);
      p.exited({ code: m.code, signal: m.signal, stderr: m.stderr });
    }
  });
  // The launcher gone (it runs no native code, so this is rare: killed from outside): its trainers
  // cannot report their exits; they are told apart from healthy ones by their sockets closing.
  child.once("exit", () => {
    if (launcher === me) launcher = null;
    waiting = 0;
    for (const p of pending.values()) {
      p.spawned?.reject(new Error("the trainer launcher exited"));
      p.exited({ code: null, signal: null, stderr: "" });
    }
    pending.clear();
  });
  return me;
}

/**
 * Starts the trainer launcher now, while this process is small and idle (the server calls this when
 * its run manager is created), so the first run does not pay for the fork.
 */
export function prepareTrainerProcesses(): void {
  theLauncher();
}

/** The launcher's process id, or null before the first use (for tests and diagnostics). */
export function trainerLauncherPid(): number | null {
  return launcher?.child.pid ?? null;
}

function spawnTrainer(): Promise<Spawned> {
  const l = theLauncher();
  const id = nextId++;
  return new Promise<Spawned>((resolve, reject) => {
    // `exited` is replaced once the trainer is handed over (its exit cannot be reported before that).
    l.pending.set(id, { spawned: { resolve, reject }, exited: () => {} });
    if (waiting++ === 0) l.child.channel?.ref();
    l.child.send({ type: "spawn", id }, (err) => {
      if (err) {
        l.pending.delete(id);
        answered(l.child);
        reject(new Error(`could not reach the trainer launcher: ${err.message}`));
      }
    });
  });
}

function linkTo(t: Spawned): HostLink {
  let lastWord = false;
  t.socket.on("error", () => {});
  // Sockets handed over IPC allow half-open: the trainer's end of writing must close ours too.
  t.socket.once("end", () => t.socket.destroy());
  // The socket closes after every frame the trainer sent has been read; the launcher's report says how
  // the process ended. Both, then the death (if it was one) is reported.
  const closed = new Promise<void>((resolve) => t.socket.once("close", () => resolve()));
  const ended = Promise.all([closed, t.exit]).then(([, report]) => report);
  return {
    post(m: HostMessage) {
      if (t.socket.writable) writeFrame(t.socket, m);
    },
    onMessage(listener) {
      readFrames(t.socket, (raw) => {
        const m = raw as WorkerMessage;
        if (m.type === "done" || m.type === "error") lastWord = true;
        listener(m);
      });
      void ended.then(({ code, signal, stderr }) => {
        if (!lastWord)
          listener({
            type: "error",
            error: { name: "TrainerCrash", message: trainerDeathMessage(code, signal, stderr) },
          });
      });
    },
    exited: ended.then(() => undefined),
    async kill() {
      try {
        process.kill(t.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await ended;
    },
    pid: t.pid,
  };
}

/** Starts the job in a child process; resolves once its data and sessions are ready there. */
export async function startTrainingProcess(job: TrainJob, signal?: AbortSignal): Promise<TrainingRun> {
  const trainer = await spawnTrainer();
  const link = linkTo(trainer);
  writeFrame(trainer.socket, { type: "job", job });
  return hostTraining(link, signal);
}
