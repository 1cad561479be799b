// What a trainer and its host say to each other, whichever boundary lies between them (a worker
// thread's port or a child process's IPC channel): the messages, the packed rows, errors that keep
// their type across the boundary, the trainer's side of the loop (serveTrainer) and the host's side
// (hostTraining: chunks in order, acknowledgements, stopping).
//
// Backpressure window (two chunks): the trainer computes chunk n+1 while the host writes chunk n, but
// does not start chunk n+2 before chunk n is acknowledged (pulling the next chunk from `chunks`
// acknowledges the previous one: the caller has persisted and published it). So the database write
// overlaps training, and a slow database bounds the trainer at one unacknowledged chunk plus the one
// in progress: nothing piles up in memory and a crash loses at most those two chunks, which were
// never acknowledged to anyone.
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

/** A chunk on the wire: rows packed column-free into one Float64Array (see packRows). */
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
 * ≈ 260 µs, about 10% of the linear model's K=100 chunk; one typed array costs next to nothing.
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

/** The trainer's end of the boundary. */
export interface TrainerPort {
  /** Sends a message (transfer: buffers the receiver may take over, where the boundary allows it). */
  post(m: WorkerMessage, transfer?: ArrayBuffer[]): Promise<void>;
  onMessage(listener: (m: HostMessage) => void): void;
}

/** Runs a job's Trainer, posting its chunks at most two ahead of the host's acknowledgements. */
export async function serveTrainer(port: TrainerPort, job: TrainJob): Promise<void> {
  const controller = new AbortController();
  let acked = -1;
  let wake: (() => void) | null = null;
  port.onMessage((m) => {
    if (m.type === "ack") acked = Math.max(acked, m.index);
    else controller.abort();
    wake?.();
  });
  try {
    const trainer = await Trainer.create(job);
    await port.post({ type: "ready", info: trainer.info });
    const it = trainer.chunks(controller.signal);
    for (let i = 0; ; i++) {
      // Chunk i may start once chunk i−2 is durable: one chunk being written, one being computed.
      while (acked < i - 2 && !controller.signal.aborted) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = null;
      }
      // One event-loop turn first, so an abort or ack that arrived during the last session.run (which
      // blocks this thread) is seen before the next chunk starts: cancellation lands within one chunk.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const r = await it.next();
      if (r.done) {
        await port.post({ type: "done", end: r.value }, [r.value.checkpoint.state.buffer as ArrayBuffer]);
        break;
      }
      const cp = r.value.checkpoint;
      const rows = packRows(r.value.rows);
      const transfer = [rows.buffer as ArrayBuffer, ...(cp ? [cp.state.buffer as ArrayBuffer] : [])];
      void port.post({ type: "chunk", index: i, chunk: { ...r.value, rows } }, transfer);
    }
    await trainer.release();
  } catch (err) {
    await port.post({ type: "error", error: serializeError(err) });
  }
}

export interface TrainingRun {
  info: TrainInfo;
  /**
   * The chunks in step order, then the TrainEnd as the return value. Calling next() acknowledges the
   * chunk returned before (persist it first). Throws DivergenceError, RunConfigError, … as the runner
   * does, and an Error naming the signal or exit code when the trainer died (a process trainer).
   */
  chunks: AsyncGenerator<TrainChunk, TrainEnd, void>;
  /** Stops the trainer now (the generator's finally does this too). */
  terminate(): Promise<void>;
  /** Chunks computed and received but not yet taken from `chunks` (at most 1 with the two-chunk window). */
  buffered(): number;
  /** The trainer's process id when it runs in a child process, else null. */
  pid: number | null;
}

/** The host's end of the boundary. */
export interface HostLink {
  post(m: HostMessage): void;
  /** Every message from the trainer; when it dies without a last word, an "error" naming the cause. */
  onMessage(listener: (m: WorkerMessage) => void): void;
  /** Resolves once the trainer is gone. */
  exited: Promise<void>;
  /** Ends the trainer by force (after it did not leave by itself within the grace period). */
  kill(): Promise<void>;
  pid: number | null;
}

/** How long a stopping trainer may take to finish its session.run and leave by itself. */
const TERMINATE_GRACE_MS = 30_000;

/** The host side: waits for "ready", then yields the chunks, acknowledging each one pulled after it. */
export async function hostTraining(link: HostLink, signal?: AbortSignal): Promise<TrainingRun> {
  const queue: WorkerMessage[] = [];
  let wake: (() => void) | null = null;
  link.onMessage((m) => {
    queue.push(m);
    wake?.();
  });
  const onAbort = () => link.post({ type: "abort" });
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
  // Ask the trainer to stop and let it leave by itself; kill it only if it does not. (A worker thread
  // terminated inside session.run aborts the whole process: onnxruntime's asynchronous completion then
  // throws a Napi::Error into a dead environment, "terminate called after throwing…".)
  let stopping: Promise<void> | null = null;
  const terminate = () => {
    stopping ??= (async () => {
      signal?.removeEventListener("abort", onAbort);
      link.post({ type: "abort" });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), TERMINATE_GRACE_MS);
      });
      const how = await Promise.race([link.exited, late]);
      clearTimeout(timer);
      if (how === "late") await link.kill();
    })();
    return stopping;
  };
  const first = await next();
  if (first.type !== "ready") {
    await terminate();
    throw first.type === "error" ? deserializeError(first.error) : new Error(`unexpected ${first.type}`);
  }
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  async function* chunks(): AsyncGenerator<TrainChunk, TrainEnd, void> {
    try {
      for (;;) {
        const m = await next();
        if (m.type === "chunk") {
          yield { ...m.chunk, rows: unpackRows(m.chunk.rows) };
          link.post({ type: "ack", index: m.index });
        } else if (m.type === "done") return m.end;
        else if (m.type === "error") throw deserializeError(m.error);
      }
    } finally {
      await terminate();
    }
  }
  const buffered = () => queue.filter((m) => m.type === "chunk").length;
  return { info: first.info, chunks: chunks(), terminate, buffered, pid: link.pid };
}
