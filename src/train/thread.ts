// Where a run's Trainer runs, chosen per start (`isolation`):
//   - "process" (the server's default, src/train/process.ts): a child process per run, so a native
//     abort, a segfault or an out-of-memory kill in onnxruntime ends that run, not the server;
//   - "thread": a worker_threads Worker in this process (the former default; kept for comparison in
//     `npm run bench runner` and for callers that want no process start-up);
//   - "inline": this thread (the CLI, tests of the runner itself).
// All three yield the same chunks through the same TrainingRun (src/train/protocol.ts).
//
// Why not the main thread: session.run is asynchronous, but gathering batches, building feeds, reading
// the outputs and evaluating are synchronous JS, and at tens of thousands of steps/s those slices add
// up on the thread that serves GraphQL. Off it, the main thread only receives one packed chunk per K
// steps.
import { Worker } from "node:worker_threads";
import { tsWorkerSource } from "../worker-bootstrap.ts";
import { prepareTrainerProcesses, startTrainingProcess } from "./process.ts";
import {
  type HostLink,
  hostTraining,
  serializeError,
  type TrainingRun,
  type WorkerMessage,
} from "./protocol.ts";
import { type TrainChunk, type TrainEnd, Trainer, type TrainJob } from "./runner.ts";

export type { TrainingRun } from "./protocol.ts";

export type Isolation = "process" | "thread" | "inline";

export interface StartOptions {
  /** Checked by the runner between chunks; an aborted run ends with status "aborted" and a checkpoint. */
  signal?: AbortSignal;
  /** Where the trainer runs (see above); default "thread". `inline: true` means "inline". */
  isolation?: Isolation;
  /** Run in this thread (the CLI, tests of the runner itself); the same as isolation "inline". */
  inline?: boolean;
}

async function startInline(job: TrainJob, options: StartOptions): Promise<TrainingRun> {
  const trainer = await Trainer.create(job);
  async function* chunks(): AsyncGenerator<TrainChunk, TrainEnd, void> {
    try {
      return yield* trainer.chunks(options.signal);
    } finally {
      await trainer.release();
    }
  }
  return {
    info: trainer.info,
    chunks: chunks(),
    terminate: () => trainer.release(),
    buffered: () => 0,
    pid: null,
  };
}

function startThread(job: TrainJob, options: StartOptions): Promise<TrainingRun> {
  const worker = new Worker(tsWorkerSource(new URL("./worker.ts", import.meta.url)), {
    eval: true,
    workerData: { job },
  });
  let lastWord = false;
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const link: HostLink = {
    post: (m) => worker.postMessage(m),
    onMessage(listener) {
      const hear = (m: WorkerMessage) => {
        if (m.type === "done" || m.type === "error") lastWord = true;
        listener(m);
      };
      worker.on("message", hear);
      worker.on("error", (err) => hear({ type: "error", error: serializeError(err) }));
      worker.on("exit", (code) => {
        if (!lastWord)
          hear({
            type: "error",
            error: { name: "Error", message: `the training thread exited (code ${code})` },
          });
      });
    },
    exited,
    kill: async () => void (await worker.terminate()),
    pid: null,
  };
  return hostTraining(link, options.signal);
}

/** Gets ready to start trainers of this kind (for "process": the launcher, forked while this process is small). */
export function prepareTrainers(isolation: Isolation): void {
  if (isolation === "process") prepareTrainerProcesses();
}

/** Starts a job and resolves once its data and sessions are ready. */
export function startTraining(job: TrainJob, options: StartOptions = {}): Promise<TrainingRun> {
  const isolation = options.inline ? "inline" : (options.isolation ?? "thread");
  if (isolation === "inline") return startInline(job, options);
  if (isolation === "process") return startTrainingProcess(job, options.signal);
  return startThread(job, options);
}
