// The run lifecycle's events: three buses (batch chunks per run, status/epoch events per run, the
// run list's changes), the topics opened on them, and the resumable streams subscribers read.
// In one process the buses are in-memory Broadcasters; a cluster passes Redis buses (redis-pubsub.ts).
//
// A subscriber subscribes to the live topic before its first replay query (stream.ts), so nothing
// committed between the two is missed; replay reads the database, which every chunk reached first.
import type { Db, EpochRow, Run, RunStatus } from "../db/index.ts";
import { RunKind, RunStatus as Status } from "../db/index.ts";
import type { ValidationRow } from "../db/learning.ts";
import { NotFoundError } from "../errors.ts";
import type { AlertLog } from "./alerts.ts";
import { Broadcaster } from "./broadcast.ts";
import { resumable } from "./stream.ts";
import type { BatchChunkEvent, RunEvent, RunsChangedEvent } from "./types.ts";

/** The publish/subscribe shape of broadcast.ts, so another transport (src/runs/redis-pubsub.ts) fits. */
export interface Bus<T> {
  publish(topic: string, event: T): void;
  subscribe(topic: string): AsyncIterableIterator<T>;
  close(topic: string): void;
}

export interface RunBuses {
  batches: Bus<BatchChunkEvent>;
  events: Bus<RunEvent>;
  changes: Bus<RunsChangedEvent>;
}

const ACTIVE: readonly RunStatus[] = [Status.QUEUED, Status.RUNNING];

/** The error every stream of a missing run ends with (the manager's callers match it by class). */
export function unknownRun(runId: number): NotFoundError {
  return new NotFoundError("run", String(runId), `unknown run id ${runId}`);
}

export class RunEvents {
  private readonly topics = new Set<string>();
  /** Read by src/runs/external.ts, whose runs publish here too. */
  readonly buses: RunBuses;

  constructor(
    private readonly db: Db,
    options: { buses?: RunBuses; maxQueued?: number; replayChunk?: number },
  ) {
    const bus = { maxQueued: options.maxQueued ?? 256 };
    this.buses = options.buses ?? {
      batches: new Broadcaster(bus),
      events: new Broadcaster(bus),
      changes: new Broadcaster(bus),
    };
    this.replayChunk = options.replayChunk ?? 1000;
  }

  private readonly replayChunk: number;

  private topic(kind: "batches" | "events", runId: number): string {
    const t = `${kind}:${runId}`;
    this.topics.add(t);
    return t;
  }

  /** A status change of a run (committed first by the caller). */
  status(runId: number, status: RunStatus, error: string | null): void {
    this.buses.events.publish(this.topic("events", runId), {
      kind: "status",
      runId,
      status,
      error,
      at: new Date(),
    });
  }

  statusOf(run: Run): void {
    this.status(run.id, run.status, run.errorMessage);
  }

  changed(kind: RunsChangedEvent["kind"], runId: number, status: RunStatus | null): void {
    this.buses.changes.publish("runs", { kind, runId, status });
  }

  chunk(event: BatchChunkEvent): void {
    this.buses.batches.publish(this.topic("batches", event.runId), event);
  }

  epoch(runId: number, epoch: EpochRow): void {
    this.buses.events.publish(this.topic("events", runId), { kind: "epoch", runId, epoch });
  }

  /** An evaluation (every N steps or at an epoch end), committed first. */
  validation(runId: number, validation: ValidationRow): void {
    this.buses.events.publish(this.topic("events", runId), { kind: "validation", runId, validation });
  }

  /** An alert delivery's outcome (src/runs/alerts.ts). */
  alert(runId: number, alert: AlertLog): void {
    this.buses.events.publish(this.topic("events", runId), { kind: "alert", runId, alert });
  }

  /** A deleted run's streams end now. */
  closeRun(runId: number): void {
    this.buses.batches.close(`batches:${runId}`);
    this.buses.events.close(`events:${runId}`);
  }

  /** Replays persisted chunks after `afterStep`, then live; completes after the final chunk. */
  batches(runId: number, afterStep: number): AsyncIterableIterator<BatchChunkEvent> {
    const live = this.buses.batches.subscribe(this.topic("batches", runId));
    return resumable<BatchChunkEvent>({
      afterStep,
      live,
      replay: async (after) => {
        // Status first: a run seen ended here has every row committed before that status.
        const run = await this.db.getRun(runId);
        if (!run) throw unknownRun(runId);
        const page = await this.db.batchMetricsPage(runId, after, this.replayChunk);
        if (page.rows.length) {
          const lastStep = page.rows[page.rows.length - 1].step;
          const system = await this.db.systemMetrics(runId, page.rows[0].step, lastStep, page.rows.length);
          return { runId, rows: page.rows, lastStep, final: false, system };
        }
        if (ACTIVE.includes(run.status)) return null;
        // An idle EXTERNAL run is INTERRUPTED but may log again, so its stream stays open.
        if (run.kind === RunKind.EXTERNAL && run.status === Status.INTERRUPTED) return null;
        return { runId, rows: [], lastStep: after, final: true };
      },
      after: (chunk, after) => ({
        ...chunk,
        rows: chunk.rows.filter((r) => r.step > after),
        system: chunk.system?.filter((r) => r.step > after),
      }),
    });
  }

  runEvents(runId: number): AsyncIterableIterator<RunEvent> {
    const live = this.buses.events.subscribe(this.topic("events", runId));
    const db = this.db;
    let checked = false;
    const it: AsyncIterableIterator<RunEvent> = {
      [Symbol.asyncIterator]: () => it,
      async next() {
        if (!checked) {
          checked = true;
          if (!(await db.getRun(runId))) {
            await live.return?.();
            throw unknownRun(runId);
          }
        }
        return live.next();
      },
      return: async () => (live.return ? live.return() : { value: undefined, done: true }),
    };
    return it;
  }

  runsChanged(): AsyncIterableIterator<RunsChangedEvent> {
    this.topics.add("runs");
    return this.buses.changes.subscribe("runs");
  }

  /** Ends every open stream (shutdown). */
  close(): void {
    for (const t of this.topics) {
      this.buses.batches.close(t);
      this.buses.events.close(t);
      this.buses.changes.close(t);
    }
  }
}
