// A trainer in a child process (one per run): onnxruntime's native code then runs where its crash
// cannot take the server down. An abort ("terminate called after throwing an instance of
// 'Napi::Error'"), a segfault or the out-of-memory killer ends the child; the host sees the channel
// close without a last word and fails the run with the signal or exit code and the child's last
// stderr lines. The messages are those of a worker thread (src/train/protocol.ts) over Node's IPC
// channel with the "advanced" (structured clone) serialization, so typed arrays cross as they are.
//
// The child is `node --import tsx trainer-process.ts`, like the provider probe (provider-probe.cjs)
// but long-lived; it leaves by itself after its last message, and when the server goes away (its IPC
// channel closes) it exits too, so no trainer outlives its server.
import { type ChildProcess, fork } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  type HostLink,
  type HostMessage,
  hostTraining,
  type TrainingRun,
  type WorkerMessage,
} from "./protocol.ts";
import type { TrainJob } from "./runner.ts";

const ENTRY = fileURLToPath(new URL("./trainer-process.ts", import.meta.url));
/** Bytes of the child's stderr kept for the failure message. */
const STDERR_TAIL = 4096;

function tsxLoader(): string {
  const pkg = createRequire(import.meta.url).resolve("tsx/package.json");
  return pathToFileURL(join(dirname(pkg), "dist", "loader.mjs")).href;
}

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

function linkTo(child: ChildProcess): HostLink {
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (s: string) => {
    process.stderr.write(s);
    stderr = (stderr + s).slice(-STDERR_TAIL);
  });
  let lastWord = false;
  // "close" comes after the exit and after the child's stdio and IPC streams ended, so every message
  // it sent has been heard before the death is reported.
  const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  // A send racing the child's exit fails with ERR_IPC_CHANNEL_CLOSED: the death is reported anyway.
  child.on("error", () => {});
  return {
    post(m: HostMessage) {
      if (child.connected) child.send(m, (err) => void err);
    },
    onMessage(listener) {
      child.on("message", (m: WorkerMessage) => {
        if (m.type === "done" || m.type === "error") lastWord = true;
        listener(m);
      });
      void closed.then(({ code, signal }) => {
        if (!lastWord)
          listener({
            type: "error",
            error: { name: "TrainerCrash", message: trainerDeathMessage(code, signal, stderr) },
          });
      });
    },
    exited: closed.then(() => undefined),
    async kill() {
      child.kill("SIGKILL");
      await closed;
    },
    pid: child.pid ?? null,
  };
}

function spawnTrainer(): ChildProcess {
  const child = fork(ENTRY, [], {
    execArgv: ["--import", tsxLoader()],
    serialization: "advanced",
    stdio: ["ignore", "inherit", "pipe", "ipc"],
  });
  // A spare waiting for a job keeps neither this process nor its event loop alive.
  child.unref();
  child.channel?.unref();
  (child.stderr as unknown as { unref(): void } | null)?.unref();
  return child;
}

/**
 * One trainer process started ahead of the next run: loading tsx, the compiler and onnxruntime takes a
 * child 0.3–1 s of CPU, which a run would otherwise wait for on top of its own set-up. It is started
 * when a trainer exits, between runs: fork() blocks the event loop for a moment (tens of ms for a large
 * server process) and the spare's start-up takes CPU, neither of which should land on a training run.
 * It exits with this process (its IPC channel closes).
 */
let spare: ChildProcess | null = null;

function takeTrainer(): ChildProcess {
  const s = spare;
  spare = null;
  if (s?.connected && s.exitCode === null && s.signalCode === null) return s;
  s?.kill("SIGKILL");
  return spawnTrainer();
}

/** Starts the job in a child process; resolves once its data and sessions are ready there. */
export function startTrainingProcess(job: TrainJob, signal?: AbortSignal): Promise<TrainingRun> {
  const child = takeTrainer();
  // While this run trains, the channel and the pipe keep it in hand like any pending I/O.
  child.ref();
  child.channel?.ref();
  child.once("close", () => {
    spare ??= spawnTrainer();
  });
  const link = linkTo(child);
  child.send({ type: "job", job }, (err) => void err);
  return hostTraining(link, signal);
}
