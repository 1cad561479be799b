// The training thread (see thread.ts): runs one job's Trainer and posts its chunks, at most two ahead
// of the host's acknowledgements (src/train/protocol.ts).
import { parentPort, workerData } from "node:worker_threads";
import { type HostMessage, serveTrainer } from "./protocol.ts";
import type { TrainJob } from "./runner.ts";

const port = parentPort;
if (!port) throw new Error("worker.ts must run in a worker thread");
const { job } = workerData as { job: TrainJob };
await serveTrainer(
  {
    post: async (m, transfer = []) => port.postMessage(m, transfer),
    onMessage: (listener) => port.on("message", (m: HostMessage) => listener(m)),
  },
  job,
);
// Nothing is left to do: closing the port lets the thread end by itself (the host waits for that
// rather than terminating a thread that might be inside onnxruntime).
port.close();
