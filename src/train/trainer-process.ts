// The trainer child process (see process.ts): receives one job, runs its Trainer and sends its chunks
// over IPC, at most two ahead of the host's acknowledgements (src/train/protocol.ts), then leaves.
import type { HostMessage, WorkerMessage } from "./protocol.ts";
import { serveTrainer } from "./protocol.ts";
import type { TrainJob } from "./runner.ts";

const send = process.send?.bind(process);
if (!send) throw new Error("trainer-process.ts must run as a forked child process");
// The server went away (crashed, killed, or closed the channel): nothing may train on unobserved.
process.on("disconnect", () => process.exit(0));

const job = await new Promise<TrainJob>((resolve) =>
  process.once("message", (m: { type: "job"; job: TrainJob }) => resolve(m.job)),
);
await serveTrainer(
  {
    post: (m: WorkerMessage) =>
      new Promise<void>((resolve) => {
        if (!process.connected) return resolve();
        send(m, undefined, {}, () => resolve());
      }),
    onMessage: (listener) => process.on("message", (m: HostMessage) => listener(m)),
  },
  job,
);
// Every message was handed to the channel (post resolved): closing it lets the process end.
process.disconnect();
