// The trainer child process (see process.ts, started by launcher.cjs): receives one job on its
// socket to the server (fd 3), runs its Trainer and sends its chunks back as frames (frames.ts), at
// most two ahead of the server's acknowledgements (src/train/protocol.ts), then leaves.
import { Socket } from "node:net";
import { readFrames, writeFrame } from "./frames.ts";
import { type HostMessage, serveTrainer, type WorkerMessage } from "./protocol.ts";
import type { TrainJob } from "./runner.ts";

const channel = new Socket({ fd: 3, readable: true, writable: true });
// The server went away (crashed, killed, or closed the socket): nothing may train on unobserved.
channel.on("close", () => process.exit(0));
channel.on("error", () => {});
// stderr is a pipe to the launcher; if the launcher is gone, a write fails (EPIPE) and must not end a
// run that is otherwise fine.
process.stderr.on("error", () => {});

const listeners: ((m: HostMessage) => void)[] = [];
let gotJob: (job: TrainJob) => void = () => {};
const job = new Promise<TrainJob>((resolve) => {
  gotJob = resolve;
});
readFrames(channel, (m) => {
  const msg = m as HostMessage | { type: "job"; job: TrainJob };
  if (msg.type === "job") gotJob(msg.job);
  else for (const l of listeners) l(msg);
});

await serveTrainer(
  {
    post: (m: WorkerMessage) =>
      new Promise<void>((resolve) => {
        if (!channel.writable) return resolve();
        writeFrame(channel, m, () => resolve());
      }),
    onMessage: (listener) => listeners.push(listener),
  },
  await job,
);
// Every message was handed to the socket (post resolved): end our side of it. The server closes the
// socket once it has read everything (then "close" above ends this process). Closing it from here
// instead would let an acknowledgement the server sends meanwhile fail with EPIPE, and the server's
// socket, destroyed by that error, would drop the frames it had not read yet: the last word included.
channel.end();
