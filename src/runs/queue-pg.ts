// The run queue on PostgreSQL, for several API and worker processes sharing one database.
//
// Why plain SQL on the Run table (`SELECT … FOR UPDATE SKIP LOCKED`) rather than pg-boss or
// graphile-worker: the Run row already is the job (status QUEUED = waiting, RUNNING = leased) and
// already carries a heartbeat stamped by every persisted chunk (src/db), so a second job table would
// have to be kept in step with it, in the same transactions, forever. Here one UPDATE moves a run from
// QUEUED to RUNNING for exactly one worker (SKIP LOCKED makes concurrent claimers take different rows,
// the status condition makes a claim happen at most once), and the lease is the heartbeat:
//   - a worker stamps "heartbeatAt" of the runs it holds every poll (and every chunk write does too);
//   - a RUNNING run whose heartbeat is older than the lease belongs to a dead (or partitioned) worker:
//     any process requeues it, and the next claimer resumes it from its latest checkpoint;
//   - a worker whose heartbeat UPDATE no longer matches a run (another process requeued it) stops it
//     without writing a status (fencing), so a run has at most one worker writing its status.
// Cancellation of a run trained elsewhere sets "cancelRequested"; the holding worker reads it with
// its heartbeat (every poll, default 250 ms), so it stops within a poll plus one chunk; LISTEN/NOTIFY
// wakes workers at once for new runs and cancellations, the poll covering any notification missed.
// Times come from the database's clock (now() in UTC, as the write path stamps heartbeats), so
// processes on machines with skewed clocks agree on which leases expired.
import pg from "pg";
import { guardCheckedOutClients } from "../db/postgres.ts";

const NOW = `(now() AT TIME ZONE 'UTC')`;

export interface Heartbeat {
  /** Runs this worker still holds. */
  held: number[];
  /** Of those, the runs someone asked to cancel. */
  cancel: number[];
}

export interface Reaped {
  /** Runs whose worker's lease expired, now QUEUED again (to resume from their latest checkpoint). */
  requeued: { runId: number; workerId: string | null }[];
  /** Runs whose worker died after a cancellation was requested: left INTERRUPTED for the caller to end. */
  cancelled: number[];
}

const QUEUE_CHANNEL = "gradstream_queue";
const CANCEL_CHANNEL = "gradstream_cancel";

export class PgRunQueue {
  private listener: pg.Client | null = null;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {}

  /**
   * LISTEN/NOTIFY on top of the poll: a worker hears of a queued run or a cancellation at once instead
   * of at its next poll. The poll stays the source of truth (a notification sent while this connection
   * was down is simply picked up by the next poll).
   */
  async listen(handlers: { queued: () => void; cancel: (runId: number) => void }): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on("notification", (n) => {
      if (n.channel === QUEUE_CHANNEL) handlers.queued();
      else if (n.channel === CANCEL_CHANNEL) handlers.cancel(Number(n.payload));
    });
    client.on("error", (err) => {
      console.error(`gradstream: queue LISTEN connection failed (polling continues): ${err.message}`);
    });
    await client.connect();
    await client.query(`LISTEN ${QUEUE_CHANNEL}`);
    await client.query(`LISTEN ${CANCEL_CHANNEL}`);
    this.listener = client;
  }

  /** Wakes listening workers: a run was queued (or requeued). */
  async notifyQueued(): Promise<void> {
    await this.pool.query(`SELECT pg_notify('${QUEUE_CHANNEL}', '')`);
  }

  static open(url: string): PgRunQueue {
    // A few connections are enough: claims, heartbeats and reaping are one short statement each.
    const pool = new pg.Pool({ connectionString: url, max: 3 });
    // an idle connection the server ends is dropped and reopened on next use; the poll goes on
    pool.on("error", (err) => {
      console.warn(
        `gradstream: an idle queue connection was closed by the server (${err.message}); reconnecting on next use`,
      );
    });
    guardCheckedOutClients(pool);
    return new PgRunQueue(pool, url);
  }

  /**
   * Leases up to `n` QUEUED runs (oldest first) whose requested provider is one of `providers` to
   * `workerId`: status RUNNING, a fresh heartbeat, attempts + 1. Resolves with their ids.
   */
  async claim(workerId: string, providers: readonly string[], n: number): Promise<number[]> {
    if (n < 1) return [];
    const r = await this.pool.query<{ id: number }>(
      `UPDATE "Run" SET "status" = 'RUNNING', "workerId" = $1, "attempts" = "attempts" + 1,
         "cancelRequested" = false, "heartbeatAt" = ${NOW}, "updatedAt" = ${NOW}
       WHERE "id" IN (
         SELECT "id" FROM "Run"
         WHERE "status" = 'QUEUED' AND upper("providerRequested") = ANY($2::text[])
         ORDER BY "id" LIMIT $3
         FOR UPDATE SKIP LOCKED)
       RETURNING "id"`,
      [workerId, providers.map((p) => p.toUpperCase()), n],
    );
    return r.rows.map((row) => row.id).sort((a, b) => a - b);
  }

  /** Renews the lease of the runs `workerId` holds among `runIds`; reports which it still holds. */
  async heartbeat(workerId: string, runIds: readonly number[]): Promise<Heartbeat> {
    if (runIds.length === 0) return { held: [], cancel: [] };
    const r = await this.pool.query<{ id: number; cancelRequested: boolean }>(
      `UPDATE "Run" SET "heartbeatAt" = ${NOW}
       WHERE "id" = ANY($2::int4[]) AND "workerId" = $1 AND "status" = 'RUNNING'
       RETURNING "id", "cancelRequested"`,
      [workerId, [...runIds]],
    );
    return {
      held: r.rows.map((row) => row.id),
      cancel: r.rows.filter((row) => row.cancelRequested).map((row) => row.id),
    };
  }

  /** Requeues RUNNING runs whose heartbeat is older than `leaseMs` (their worker died). */
  async reapExpired(leaseMs: number): Promise<Reaped> {
    // Only leased runs (a claim sets workerId and the heartbeat) expire; a run that a single-process
    // server trains has no worker and is left to that server's own crash recovery.
    const stale = `"status" = 'RUNNING' AND "workerId" IS NOT NULL AND "heartbeatAt" < ${NOW} - ($1::int4 * interval '1 millisecond')`;
    const requeued = await this.pool.query<{ id: number; workerId: string | null }>(
      `WITH dead AS (
         SELECT "id", "workerId" FROM "Run" WHERE ${stale} AND NOT "cancelRequested" FOR UPDATE SKIP LOCKED)
       UPDATE "Run" r SET "status" = 'QUEUED', "workerId" = NULL, "updatedAt" = ${NOW},
         "errorMessage" = 'interrupted: worker ' || COALESCE(dead."workerId", '?') || ' stopped heartbeating; resuming from the latest checkpoint'
       FROM dead WHERE r."id" = dead."id"
       RETURNING r."id", dead."workerId"`,
      [leaseMs],
    );
    const cancelled = await this.pool.query<{ id: number }>(
      `UPDATE "Run" SET "status" = 'INTERRUPTED', "updatedAt" = ${NOW}
       WHERE "id" IN (SELECT "id" FROM "Run" WHERE ${stale} AND "cancelRequested" FOR UPDATE SKIP LOCKED)
       RETURNING "id"`,
      [leaseMs],
    );
    return {
      requeued: requeued.rows.map((row) => ({ runId: row.id, workerId: row.workerId })),
      cancelled: cancelled.rows.map((row) => row.id),
    };
  }

  /** Takes a QUEUED run out of the queue (status INTERRUPTED) so no worker claims it; false if not QUEUED. */
  async takeQueued(runId: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE "Run" SET "status" = 'INTERRUPTED', "updatedAt" = ${NOW} WHERE "id" = $1 AND "status" = 'QUEUED'`,
      [runId],
    );
    return r.rowCount === 1;
  }

  /** Asks the worker holding a RUNNING run to cancel it; false if the run is not RUNNING. */
  async requestCancel(runId: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE "Run" SET "cancelRequested" = true WHERE "id" = $1 AND "status" = 'RUNNING'`,
      [runId],
    );
    if (r.rowCount !== 1) return false;
    await this.pool.query(`SELECT pg_notify('${CANCEL_CHANNEL}', $1)`, [String(runId)]);
    return true;
  }

  /** A worker shutting down hands its run back to the queue (to resume elsewhere); false if not held. */
  async release(runId: number, workerId: string, message: string): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE "Run" SET "status" = 'QUEUED', "workerId" = NULL, "errorMessage" = $3, "updatedAt" = ${NOW}
       WHERE "id" = $1 AND "workerId" = $2 AND "status" = 'RUNNING'`,
      [runId, workerId, message],
    );
    return r.rowCount === 1;
  }

  async close(): Promise<void> {
    await this.listener?.end().catch(() => {});
    this.listener = null;
    await this.pool.end();
  }
}
