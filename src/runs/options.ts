// What a run manager is built from (manager.ts): its database, queue, concurrency, checkpoints,
// subscriber limits, pub/sub, admission limits and recovery settings.
import type { Db } from "../db/index.ts";
import type { AdmissionLimits } from "./admission.ts";
import type { AlertOptions } from "./alerts.ts";
import type { RunBuses } from "./events.ts";
import type { RunQueue } from "./queue.ts";

export interface RunManagerOptions {
  db: Db;
  /** Which runs this process trains; default the in-memory FIFO (MemoryRunQueue). */
  queue?: RunQueue;
  /** Runs training at once; default max(1, ⌊cores / 2⌋). Further runs wait in FIFO order. */
  maxConcurrent?: number;
  /** Checkpoint every N steps; default null. Runs always checkpoint at the end, on cancel and on shutdown. */
  checkpointEvery?: number | null;
  /** Also checkpoint when this many ms passed since the last; default 30,000 (bounds a crash's loss). */
  checkpointIntervalMs?: number | null;
  /**
   * onnxruntime intra-op threads per run; default the run's share of the cores, max(1, ⌊cores /
   * maxConcurrent⌋), so runs do not oversubscribe. Synthetic data is still generated on the whole share.
   */
  threadsPerRun?: number;
  /**
   * Let a run's idle onnxruntime threads spin-wait between ops instead of sleeping; default on when
   * maxConcurrent × threadsPerRun ≤ cores (no two runs share a core), off otherwise (spinning threads
   * then steal the cores another run needs).
   */
  spinning?: boolean;
  /**
   * Where runs train: "process" (default), a child process per run, so a native crash fails only that
   * run; "thread", a worker thread of this process.
   */
  trainerIsolation?: "process" | "thread";
  /** Events a subscriber may fall behind before it is disconnected (see broadcast.ts); default 256. */
  maxQueued?: number;
  /** Rows per replayed chunk when a subscriber catches up from the database; default 1,000. */
  replayChunk?: number;
  /** The pub/sub the events go through; default in-process Broadcasters (Redis across processes). */
  buses?: RunBuses;
  /** Admission limits; default none beyond the run configuration's own ranges. */
  limits?: Partial<AdmissionLimits>;
  /** RESUME_ON_START (default queue): at start resume runs left RUNNING or INTERRUPTED; default off here. */
  resumeOnStart?: boolean;
  /** Crashes in a row (no new step between them) after which a run is failed, not resumed; default 3. */
  maxTrainerCrashes?: number;
  /** Alert webhooks: ALERT_WEBHOOK_URLS, ALERT_SECRET, ALERT_ALLOWED_HOSTS, retries; default none. */
  alerts?: Partial<AlertOptions>;
}
