// The RunQueue of a cluster: several API instances and workers on one PostgreSQL database (the SQL is
// in queue-pg.ts), with run events fanned out through Redis (redis-pubsub.ts):
//   - enqueue only wakes the workers (the run is already committed QUEUED); whichever worker claims
//     it first trains it;
//   - a training process (role worker or all) polls every `pollMs`: it renews its leases, learns of
//     cancellation requests and of runs it lost, requeues runs of dead workers, and claims runs up to
//     its capacity among those whose provider it has;
//   - stopping a run trained elsewhere asks its worker through the database and waits for the
//     terminal status; a worker that shuts down hands its runs back to the queue instead of leaving
//     them INTERRUPTED, and no final chunk is published, so subscribers keep streaming across the move.
import { hostname } from "node:os";
import type { Db, Run } from "../db/index.ts";
import { RunStatus } from "../db/index.ts";
import { detectProviders } from "../train/providers.ts";
import type { QueueHost, RunQueue } from "./queue.ts";
import { PgRunQueue } from "./queue-pg.ts";

export interface ClusterQueueOptions {
  /** PostgreSQL URL of the shared database (the queue uses its own small pool). */
  databaseUrl: string;
  /** Whether this process trains runs (role worker or all); an API-only process never claims. */
  train: boolean;
  /** Unique per process; default host:pid:random. */
  workerId?: string;
  /** A RUNNING run whose heartbeat is older than this is requeued (its worker died); default 5,000 ms. */
  leaseMs?: number;
  /** Heartbeat, cancellation, reaping and claim period; default 250 ms. */
  pollMs?: number;
  /** Execution providers this worker offers; default the ones detected as available. */
  providers?: string[];
  /** Called once the queue is closed (e.g. to quit Redis). */
  onClose?: () => Promise<void>;
}

export class PgClusterQueue implements RunQueue {
  readonly name: string;
  private readonly train: boolean;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly sql: PgRunQueue;
  private providerNames: string[] | null;
  /** Runs this process was training when it learned another process had requeued them. */
  private readonly lost = new Set<number>();
  private host: QueueHost | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private closing = false;

  constructor(
    private readonly db: Db,
    private readonly options: ClusterQueueOptions,
  ) {
    this.name = options.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.train = options.train;
    this.leaseMs = options.leaseMs ?? 5_000;
    this.pollMs = options.pollMs ?? 250;
    if (this.pollMs * 3 > this.leaseMs)
      throw new Error(`leaseMs (${this.leaseMs}) must be at least 3 × pollMs (${this.pollMs})`);
    this.providerNames = options.providers ?? null;
    this.sql = PgRunQueue.open(options.databaseUrl);
  }

  /** No crash recovery by status here: other processes' RUNNING runs are alive; leases decide. */
  async open(host: QueueHost): Promise<void> {
    this.host = host;
    if (!this.providerNames)
      this.providerNames = (await detectProviders()).filter((p) => p.available).map((p) => p.name);
    if (this.train) {
      await this.sql.listen({
        queued: () => this.poke(),
        cancel: (runId) => {
          if (host.running().includes(runId)) this.poke();
        },
      });
    }
    this.timer = setInterval(() => this.poke(), this.pollMs);
    this.poke();
  }

  enqueue(): void {
    this.sql.notifyQueued().catch((err: unknown) => {
      console.error(`gradstream: queue NOTIFY failed (workers poll anyway): ${String(err)}`);
    });
    this.poke();
  }

  waiting(): boolean {
    return false;
  }

  take(runId: number): Promise<boolean> {
    return this.sql.takeQueued(runId);
  }

  async stopElsewhere(runId: number): Promise<Run | null> {
    if (!(await this.sql.requestCancel(runId))) return null;
    // Its worker sees the request within a poll and ends the run; a dead one's lease expires first.
    const deadline = Date.now() + this.leaseMs * 2 + 30_000;
    for (;;) {
      const run = await this.db.getRun(runId);
      if (!run || run.status !== RunStatus.RUNNING || Date.now() > deadline) return run;
      await new Promise((r) => setTimeout(r, Math.min(100, this.pollMs)));
    }
  }

  async intercept(runId: number, status: RunStatus): Promise<Run | null> {
    const current = async () => {
      const run = await this.db.getRun(runId);
      if (!run) throw new Error(`unknown run id ${runId}`);
      return run;
    };
    // Fenced: another process owns the run now; its status is theirs to write.
    if (this.lost.has(runId)) return current();
    if (status === RunStatus.INTERRUPTED && this.host?.running().includes(runId)) {
      // This worker is shutting down: hand the run to another worker, keep its subscribers streaming.
      const message = `interrupted: worker ${this.name} shut down; resuming from the latest checkpoint`;
      if (await this.sql.release(runId, this.name, message)) {
        this.moved(runId, message);
        await this.sql.notifyQueued();
      }
      return current();
    }
    return null;
  }

  ended(): void {
    this.poke();
  }

  async close(drain: () => Promise<void>): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.closing = true;
    await drain();
    await this.ticking;
    await this.sql.close();
    await this.options.onClose?.();
  }

  /** One poll at a time; a poke during a poll runs one more poll right after it. */
  private poke(): void {
    if (this.closing) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err: unknown) => {
        console.error(`gradstream: queue poll failed: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => {
        this.ticking = null;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private async tick(): Promise<void> {
    const host = this.host;
    if (!host) return;
    const ids = host.running();
    if (ids.length) {
      const hb = await this.sql.heartbeat(this.name, ids);
      for (const id of ids) {
        if (!host.running().includes(id)) continue;
        if (!hb.held.includes(id)) {
          // Someone requeued it (our lease lapsed) or it ended: stop without writing a status.
          this.lost.add(id);
          host.stop(id, null);
        } else if (hb.cancel.includes(id)) host.stop(id, "cancel");
      }
    }
    const reaped = await this.sql.reapExpired(this.leaseMs);
    for (const { runId, workerId } of reaped.requeued)
      this.moved(runId, `worker ${workerId ?? "?"} stopped heartbeating`);
    if (reaped.requeued.length) await this.sql.notifyQueued();
    for (const runId of reaped.cancelled) await host.finish(runId, RunStatus.CANCELLED, "cancelled", null);
    if (!this.train || this.closing) return;
    const free = host.maxConcurrent - host.running().length;
    const claimed = await this.sql.claim(this.name, this.providerNames ?? ["CPU"], free);
    for (const runId of claimed) {
      this.lost.delete(runId);
      host.launch(runId);
    }
  }

  /** A run went back to the queue: INTERRUPTED then QUEUED, as run lists hear a single-process shutdown. */
  private moved(runId: number, message: string): void {
    const events = this.host?.events;
    if (!events) return;
    events.status(runId, RunStatus.INTERRUPTED, message);
    events.changed("finished", runId, RunStatus.INTERRUPTED);
    events.status(runId, RunStatus.QUEUED, null);
  }
}
