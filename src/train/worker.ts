// The training thread (see thread.ts): runs one job's Trainer and posts its chunks, at most two ahead
// of the host's acknowledgements.
import { parentPort, workerData } from "node:worker_threads";
import type { TrainJob } from "./runner.ts";
import { Trainer } from "./runner.ts";
import { type HostMessage, packRows, serializeError, type WorkerMessage } from "./thread.ts";

const port = parentPort;
if (!port) throw new Error("worker.ts must run in a worker thread");
const { job } = workerData as { job: TrainJob };
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const controller = new AbortController();
let acked = -1;
let wake: (() => void) | null = null;
port.on("message", (m: HostMessage) => {
  if (m.type === "ack") acked = Math.max(acked, m.index);
  else controller.abort();
  wake?.();
});

try {
  const trainer = await Trainer.create(job);
  post({ type: "ready", info: trainer.info });
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
      post({ type: "done", end: r.value }, [r.value.checkpoint.state.buffer as ArrayBuffer]);
      break;
    }
    const cp = r.value.checkpoint;
    const rows = packRows(r.value.rows);
    const transfer = [rows.buffer as ArrayBuffer, ...(cp ? [cp.state.buffer as ArrayBuffer] : [])];
    post({ type: "chunk", index: i, chunk: { ...r.value, rows } }, transfer);
  }
  await trainer.release();
} catch (err) {
  post({ type: "error", error: serializeError(err) });
}
// Nothing is left to do: closing the port lets the thread end by itself (the host waits for that
// rather than terminating a thread that might be inside onnxruntime).
port.close();
