// The run manager for a cluster: several API instances and workers on one PostgreSQL database, with
// run events fanned out through Redis (redis-pubsub.ts). It is the single-process manager with the
// in-memory FIFO queue swapped for the database queue (queue-pg.ts):
//   - start()/resume() only commit the run QUEUED (and poke the local claim loop when this process
//     trains); whichever worker claims it first trains it;
//   - a training process (role worker or all) polls every `pollMs`: it renews its leases, learns of
//     cancellation requests and of runs it lost, requeues runs of dead workers, and claims runs up to
//     its capacity among those whose provider it has;
//   - cancel() of a run trained elsewhere asks its worker through the database and waits for the
//     terminal status; a worker that shuts down hands its runs back to the queue instead of leaving
//     them INTERRUPTED, and no final chunk is published, so subscribers keep streaming across the move.
import { hostname } from "node:os";
import type { Db, Run } from "../db/index.ts";
import { RunStatus } from "../db/index.ts";
import { detectProviders } from "../train/providers.ts";
import { GradstreamRunManager, type RunManagerOptions, type StopReason } from "./manager.ts";
import { PgRunQueue } from "./queue-pg.ts";
import { openRedisBuses } from "./redis-pubsub.ts";

export interface ClusterOptions extends RunManagerOptions {
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
  /** Called after the buses are closed (e.g. to quit Redis). */
  onClose?: () => Promise<void>;
}

export class ClusterRunManager extends GradstreamRunManager {
  readonly workerId: string;
  readonly train: boolean;
  readonly leaseMs: number;
  readonly pollMs: number;
  private readonly queueDb: PgRunQueue;
  private providerNames: string[] | null;
  private readonly onClose: (() => Promise<void>) | undefined;
  /** Runs this process was training when it learned another process had requeued them. */
  private readonly lost = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;

  constructor(options: ClusterOptions) {
    super(options);
    this.workerId =
      options.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.train = options.train;
    this.leaseMs = options.leaseMs ?? 5_000;
    this.pollMs = options.pollMs ?? 250;
    if (this.pollMs * 3 > this.leaseMs)
      throw new Error(`leaseMs (${this.leaseMs}) must be at least 3 × pollMs (${this.pollMs})`);
    this.providerNames = options.providers ?? null;
    this.onClose = options.onClose;
    this.queueDb = PgRunQueue.open(options.databaseUrl);
  }

  /** No crash recovery by status here: other processes' RUNNING runs are alive; leases decide. */
  override async recover(): Promise<{ interrupted: number[]; queued: number[] }> {
    if (!this.providerNames)
      this.providerNames = (await detectProviders()).filter((p) => p.available).map((p) => p.name);
    if (this.train) {
      await this.queueDb.listen({
        queued: () => this.poke(),
        cancel: (runId) => {
          if (this.active.has(runId)) this.poke();
        },
      });
    }
    this.timer = setInterval(() => this.poke(), this.pollMs);
    this.poke();
    return { interrupted: [], queued: [] };
  }

  protected override enqueue(_runId: number): void {
    this.queueDb.notifyQueued().catch((err: unknown) => {
      console.error(`gradstream: queue NOTIFY failed (workers poll anyway): ${String(err)}`);
    });
    this.poke();
  }

  protected override pump(): void {
    this.poke();
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
    if (this.active.size) {
      const ids = [...this.active.keys()];
      const hb = await this.queueDb.heartbeat(this.workerId, ids);
      for (const id of ids) {
        const a = this.active.get(id);
        if (!a) continue;
        if (!hb.held.includes(id)) {
          // Someone requeued it (our lease lapsed) or it ended: stop without writing a status.
          this.lost.add(id);
          a.controller.abort();
        } else if (hb.cancel.includes(id)) {
          a.reason ??= "cancel";
          a.controller.abort();
        }
      }
    }
    const reaped = await this.queueDb.reapExpired(this.leaseMs);
    for (const { runId, workerId } of reaped.requeued) {
      this.publishStatusOf(runId, RunStatus.INTERRUPTED, `worker ${workerId ?? "?"} stopped heartbeating`);
      this.publishStatusOf(runId, RunStatus.QUEUED, null);
    }
    if (reaped.requeued.length) await this.queueDb.notifyQueued();
    for (const runId of reaped.cancelled) await this.finish(runId, RunStatus.CANCELLED, "cancelled", null);
    if (!this.train || this.closing) return;
    const free = this.maxConcurrent - this.active.size;
    const claimed = await this.queueDb.claim(this.workerId, this.providerNames ?? ["CPU"], free);
    for (const runId of claimed) {
      this.lost.delete(runId);
      this.launch(runId);
    }
  }

  private publishStatusOf(runId: number, status: RunStatus, error: string | null): void {
    this.eventBus.publish(this.topic("events", runId), {
      kind: "status",
      runId,
      status,
      error,
      at: new Date(),
    });
    // Run lists hear "finished" (INTERRUPTED) as for a single-process shutdown, then "started" on the claim.
    if (status !== RunStatus.QUEUED) this.changeBus.publish("runs", { kind: "finished", runId, status });
  }

  protected override async stop(runId: number, reason: StopReason): Promise<Run> {
    if (this.active.has(runId)) return super.stop(runId, reason);
    if (await this.queueDb.takeQueued(runId)) {
      return this.finish(runId, RunStatus.CANCELLED, "cancelled before it started", null);
    }
    if (await this.queueDb.requestCancel(runId)) {
      // Its worker sees the request within a poll and ends the run; a dead one's lease expires first.
      const deadline = Date.now() + this.leaseMs * 2 + 30_000;
      for (;;) {
        const run = await this.db.getRun(runId);
        if (!run || run.status !== RunStatus.RUNNING || Date.now() > deadline) {
          if (run) return run;
          return super.stop(runId, reason);
        }
        await new Promise((r) => setTimeout(r, Math.min(100, this.pollMs)));
      }
    }
    return super.stop(runId, reason);
  }

  protected override async finish(
    runId: number,
    status: RunStatus,
    error: string | null,
    failedAtStep: number | null,
  ): Promise<Run> {
    const current = async () => {
      const run = await this.db.getRun(runId);
      if (!run) throw new Error(`unknown run id ${runId}`);
      return run;
    };
    // Fenced: another process owns the run now; its status is theirs to write.
    if (this.lost.has(runId)) return current();
    if (status === RunStatus.INTERRUPTED && this.active.has(runId)) {
      // This worker is shutting down: hand the run to another worker, keep its subscribers streaming.
      const message = `interrupted: worker ${this.workerId} shut down; resuming from the latest checkpoint`;
      if (await this.queueDb.release(runId, this.workerId, message)) {
        this.publishStatusOf(runId, RunStatus.INTERRUPTED, message);
        this.publishStatusOf(runId, RunStatus.QUEUED, null);
        await this.queueDb.notifyQueued();
      }
      return current();
    }
    return super.finish(runId, status, error, failedAtStep);
  }

  override async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await super.close();
    await this.ticking;
    await this.queueDb.close();
    await this.onClose?.();
  }
}

/** Creates the cluster manager and starts its poll loop. */
export async function createClusterRunManager(options: ClusterOptions): Promise<ClusterRunManager> {
  const m = new ClusterRunManager(options);
  await m.recover();
  return m;
}

/** What a cluster process needs from src/server/config.ts (kept structural so src/runs stays below it). */
export interface ClusterConfig {
  databaseUrl: string;
  redisUrl: string | null;
  workerId: string | null;
  leaseMs: number;
  queuePollMs: number;
  maxConcurrentRuns: number;
  subscriberMaxQueued: number;
  checkpointEvery: number;
}

/**
 * The manager of an API-only (`train: false`) or training process of a cluster: PostgreSQL queue and
 * Redis fan-out. Refuses a SQLite database or a missing REDIS_URL with what to set.
 */
export async function createClusterManagerFromConfig(
  db: Db,
  config: ClusterConfig,
  train: boolean,
): Promise<ClusterRunManager> {
  if (db.dialect !== "postgresql")
    throw new Error(
      "a cluster (GRADSTREAM_ROLE=api|worker, serve --no-train or REDIS_URL) needs DATABASE_URL=postgres://…: " +
        "workers share runs through the PostgreSQL queue",
    );
  if (!config.redisUrl)
    throw new Error(
      "a cluster needs REDIS_URL=redis://host:port: live batches reach API instances through Redis",
    );
  const buses = await openRedisBuses(config.redisUrl, { maxQueued: config.subscriberMaxQueued });
  try {
    return await createClusterRunManager({
      db,
      databaseUrl: config.databaseUrl,
      train,
      workerId: config.workerId ?? undefined,
      leaseMs: config.leaseMs,
      pollMs: config.queuePollMs,
      maxConcurrent: config.maxConcurrentRuns,
      maxQueued: config.subscriberMaxQueued,
      checkpointEvery: config.checkpointEvery,
      buses,
      onClose: () => buses.quit(),
    });
  } catch (err) {
    await buses.quit();
    throw err;
  }
}
