// Which runs this process trains, and when: the RunQueue the manager is given. Two exist:
//   - MemoryRunQueue (here): one process, FIFO order, at most maxConcurrent runs at once; QUEUED runs
//     of a crashed process are queued again at start and its RUNNING runs left INTERRUPTED;
//   - PgClusterQueue (queue-cluster.ts): several processes sharing runs through PostgreSQL.
import type { Db, Run, RunStatus } from "../db/index.ts";
import type { RunEvents } from "./events.ts";
import type { Finish } from "./executor.ts";
import type { StopReason } from "./progress.ts";

/** What a queue may do with the process it feeds. */
export interface QueueHost {
  readonly maxConcurrent: number;
  /** Run ids training in this process. */
  running(): number[];
  /** Starts training a run here (the queue has made it RUNNING-to-be). */
  launch(runId: number): void;
  /** Stops a run training here; reason null: another process owns it now, so no status is written. */
  stop(runId: number, reason: StopReason | null): void;
  finish: Finish;
  events: RunEvents;
}

export interface RunQueue {
  /** How this process is named in logs and Run.workerId ("in-process" for the memory queue). */
  readonly name: string;
  /** Recovers what a previous process left and starts feeding `host`. */
  open(host: QueueHost): Promise<void>;
  /** A run was just committed QUEUED. */
  enqueue(runId: number): void;
  /** Whether the run waits in this process's own queue. */
  waiting(runId: number): boolean;
  /** Takes a waiting run out of the queue; true when it was waiting (so it never started). */
  take(runId: number): Promise<boolean>;
  /** Stops a run another process trains; resolves with its row once stopped, or null when none does. */
  stopElsewhere(runId: number): Promise<Run | null>;
  /**
   * Called before the manager records a run's end: resolves with the run when the queue dealt with
   * it instead (the run moved to another process, or was handed back to the queue), else null.
   */
  intercept(runId: number, status: RunStatus): Promise<Run | null>;
  /** A run launched here has ended: there is room for another. */
  ended(runId: number): void;
  /** Stops taking runs, lets `drain` stop the running ones, then releases what the queue holds. */
  close(drain: () => Promise<void>): Promise<void>;
}

export class MemoryRunQueue implements RunQueue {
  readonly name = "in-process";
  private readonly queue: number[] = [];
  private host: QueueHost | null = null;
  private closing = false;

  constructor(private readonly db: Db) {}

  async open(host: QueueHost): Promise<void> {
    this.host = host;
    // Crash recovery: RUNNING runs of a dead process become INTERRUPTED, QUEUED runs are queued again.
    const r = await this.db.recoverAfterCrash();
    for (const id of r.queued) if (!this.queue.includes(id)) this.queue.push(id);
    this.pump();
  }

  enqueue(runId: number): void {
    this.queue.push(runId);
    this.pump();
  }

  waiting(runId: number): boolean {
    return this.queue.includes(runId);
  }

  async take(runId: number): Promise<boolean> {
    const i = this.queue.indexOf(runId);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    return true;
  }

  async stopElsewhere(): Promise<Run | null> {
    return null;
  }

  async intercept(): Promise<Run | null> {
    return null;
  }

  ended(): void {
    this.pump();
  }

  async close(drain: () => Promise<void>): Promise<void> {
    this.closing = true;
    // Queued runs stay QUEUED in the database: the next start queues them again.
    this.queue.length = 0;
    await drain();
  }

  private pump(): void {
    const host = this.host;
    if (!host) return;
    while (!this.closing && host.running().length < host.maxConcurrent && this.queue.length) {
      host.launch(this.queue.shift() as number);
    }
  }
}
