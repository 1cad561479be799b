// Training off the event loop: a Trainer runs in a worker_threads Worker and hands its chunks to the
// main thread, which persists each one before it lets the worker run far ahead.
//
// Why a worker thread: session.run is asynchronous, but gathering batches, building feeds, reading the
// outputs and evaluating are synchronous JS, and at tens of thousands of steps/s those slices add up
// on the thread that serves GraphQL. In a worker, the main thread only receives a structured-cloned
// chunk per K steps.
//
// Backpressure window (two chunks): the worker computes chunk n+1 while the main thread writes chunk n,
// but does not start chunk n+2 before chunk n is acknowledged (pulling the next chunk from `chunks`
// acknowledges the previous one: the caller has persisted and published it). So the database write
// overlaps training, and a slow database bounds the worker at one unacknowledged chunk plus the one
// in progress: nothing piles up in memory and a crash loses at most those two chunks, which were
// never acknowledged to anyone.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { TrainedRow } from "../db/types.ts";
import { RunConfigError } from "./config.ts";
import {
  DivergenceError,
  type TrainChunk,
  type TrainEnd,
  Trainer,
  type TrainInfo,
  type TrainJob,
} from "./runner.ts";

export type HostMessage = { type: "ack"; index: number } | { type: "abort" };

export interface SerializedError {
  name: string;
  message: string;
  /** The input field of a RunConfigError. */
  field?: string;
  step?: number;
  metric?: string;
  value?: number;
}

/** A chunk on the wire: rows packed column-free into one transferred Float64Array (see packRows). */
export type WireChunk = Omit<TrainChunk, "rows"> & { rows: Float64Array };

export type WorkerMessage =
  | { type: "ready"; info: TrainInfo }
  | { type: "chunk"; index: number; chunk: WireChunk }
  | { type: "done"; end: TrainEnd }
  | { type: "error"; error: SerializedError };

const ROW_KEYS = [
  "step",
  "epoch",
  "batch",
  "loss",
  "accuracy",
  "lr",
  "gradNorm",
  "confidence",
  "trueClassProb",
  "samples",
  "timeMs",
] as const satisfies readonly (keyof TrainedRow)[];

/**
 * Rows as one Float64Array (row-major, ROW_KEYS order): structured-cloning 100 row objects costs
 * ≈ 260 µs, about 10% of the linear model's K=100 chunk; a transferred buffer costs next to nothing.
 * Every field is an integer below 2^53 or a float32/float64 value, so float64 holds each exactly.
 */
export function packRows(rows: readonly TrainedRow[]): Float64Array {
  const w = ROW_KEYS.length;
  const out = new Float64Array(rows.length * w);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    for (let j = 0; j < w; j++) out[i * w + j] = r[ROW_KEYS[j]];
  }
  return out;
}

export function unpackRows(packed: Float64Array): TrainedRow[] {
  const w = ROW_KEYS.length;
  const rows: TrainedRow[] = [];
  for (let o = 0; o < packed.length; o += w) {
    rows.push({
      step: packed[o],
      epoch: packed[o + 1],
      batch: packed[o + 2],
      loss: packed[o + 3],
      accuracy: packed[o + 4],
      lr: packed[o + 5],
      gradNorm: packed[o + 6],
      confidence: packed[o + 7],
      trueClassProb: packed[o + 8],
      samples: packed[o + 9],
      timeMs: packed[o + 10],
    });
  }
  return rows;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof DivergenceError)
    return { name: err.name, message: err.message, step: err.step, metric: err.metric, value: err.value };
  if (err instanceof RunConfigError) return { name: err.name, message: err.message, field: err.field };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: "Error", message: String(err) };
}

export function deserializeError(e: SerializedError): Error {
  if (e.name === "DivergenceError" && e.step !== undefined)
    return new DivergenceError(e.step, e.metric ?? "loss", e.value ?? Number.NaN);
  if (e.name === "RunConfigError") return new RunConfigError(e.field ?? "config", e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export interface TrainingRun {
  info: TrainInfo;
  /**
   * The chunks in step order, then the TrainEnd as the return value. Calling next() acknowledges the
   * chunk returned before (persist it first). Throws DivergenceError, RunConfigError, … as the runner does.
   */
  chunks: AsyncGenerator<TrainChunk, TrainEnd, void>;
  /** Stops the training thread now (the generator's finally does this too). */
  terminate(): Promise<void>;
  /** Chunks computed and received but not yet taken from `chunks` (at most 1 with the two-chunk window). */
  buffered(): number;
}

export interface StartOptions {
  /** Checked by the runner between chunks; an aborted run ends with status "aborted" and a checkpoint. */
  signal?: AbortSignal;
  /** Run in this thread (the CLI, tests of the runner itself); default false: a worker thread. */
  inline?: boolean;
}

/**
 * Worker bootstrap: registers tsx's loader in the worker, then imports worker.ts, so the worker runs
 * TypeScript however the main thread was started (tsx, vitest); Node 20 does not pass loader hooks or
 * an `--import` execArgv on to workers (the same approach as src/db/sqlite.ts).
 */
function workerBootstrap(): string {
  const pkg = createRequire(import.meta.url).resolve("tsx/package.json");
  const api = pathToFileURL(join(dirname(pkg), "dist", "esm", "api", "index.mjs")).href;
  const entry = new URL("./worker.ts", import.meta.url).href;
  return `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
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
  return { info: trainer.info, chunks: chunks(), terminate: () => trainer.release(), buffered: () => 0 };
}

/** How long a stopping training thread may take to finish its session.run and leave by itself. */
const TERMINATE_GRACE_MS = 30_000;

/** Starts a job (in a worker thread unless `inline`) and resolves once its data and sessions are ready. */
export async function startTraining(job: TrainJob, options: StartOptions = {}): Promise<TrainingRun> {
  if (options.inline) return startInline(job, options);
  const worker = new Worker(workerBootstrap(), { eval: true, workerData: { job } });
  const queue: WorkerMessage[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  const push = (m: WorkerMessage) => {
    queue.push(m);
    wake?.();
  };
  worker.on("message", push);
  worker.on("error", (err) => push({ type: "error", error: serializeError(err) }));
  worker.on("exit", (code) => {
    if (!finished)
      push({ type: "error", error: { name: "Error", message: `the training thread exited (code ${code})` } });
  });
  const onAbort = () => worker.postMessage({ type: "abort" } satisfies HostMessage);
  const next = async (): Promise<WorkerMessage> => {
    for (;;) {
      const m = queue.shift();
      if (m) return m;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
  };
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  // Ask the thread to stop and let it leave by itself; terminate it only if it does not. A thread
  // terminated inside session.run aborts the whole process: onnxruntime's asynchronous completion then
  // throws a Napi::Error into a dead environment ("terminate called after throwing…").
  const terminate = async () => {
    finished = true;
    options.signal?.removeEventListener("abort", onAbort);
    worker.postMessage({ type: "abort" } satisfies HostMessage);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), TERMINATE_GRACE_MS);
    });
    const how = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (how === "late") await worker.terminate();
  };
  const first = await next();
  if (first.type !== "ready") {
    await terminate();
    throw first.type === "error" ? deserializeError(first.error) : new Error(`unexpected ${first.type}`);
  }
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  async function* chunks(): AsyncGenerator<TrainChunk, TrainEnd, void> {
    try {
      for (;;) {
        const m = await next();
        if (m.type === "chunk") {
          yield { ...m.chunk, rows: unpackRows(m.chunk.rows) };
          worker.postMessage({ type: "ack", index: m.index } satisfies HostMessage);
        } else if (m.type === "done") {
          finished = true;
          return m.end;
        } else if (m.type === "error") {
          finished = true;
          throw deserializeError(m.error);
        }
      }
    } finally {
      await terminate();
    }
  }
  const buffered = () => queue.filter((m) => m.type === "chunk").length;
  return { info: first.info, chunks: chunks(), terminate, buffered };
}
