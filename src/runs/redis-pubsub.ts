// Run events across processes through Redis pub/sub, behind the publish/subscribe shape of
// broadcast.ts (the Bus interface in manager.ts), so the run manager does not know which it has.
//
// - publish() sends the event to Redis only; every process (the publisher included) delivers it to its
//   own subscribers when Redis hands it back, so all instances see one order per publisher.
// - Each process SUBSCRIBEs once, at start, to one channel per bus (batches, events, runs) and
//   dispatches by topic to a local Broadcaster: subscribers keep their bounded queues (a slow one is
//   ended with SubscriberOverflowError, never the process), and because the Redis subscription exists
//   before any GraphQL subscriber does, "subscribe live, then replay from the database" (stream.ts)
//   stays gap-free across processes. The cost: every API instance receives every run's events and
//   drops those nobody on it watches; a topic per run would make each new subscriber wait for a
//   SUBSCRIBE round trip before its replay query could start.
// - Redis is fire-and-forget; PostgreSQL is the source of truth. A chunk is committed before it is
//   published, so a subscriber that reconnects (to any instance) replays what it missed from the DB.
//
// - Redis down (killed, restarting, unreachable): while either connection is not ready, the batches bus
//   reads new rows from the database for every run someone here watches (every 250 ms)
//   and delivers them locally, with the final chunk once the run has ended. Rows that Redis delivers
//   too (its offline queue, after it is back) are dropped by step in stream.ts, and a chunk that
//   starts after a gap makes stream.ts replay the gap from the database: no step is lost or doubled.
//
// ioredis directly rather than @graphql-yoga/redis-event-target: the latter is an EventTarget for
// yoga's createPubSub, whose per-subscriber Repeater is what broadcast.ts exists to avoid.
import { Redis } from "ioredis";
import { type Db, RunKind, RunStatus } from "../db/index.ts";
import { Broadcaster } from "./broadcast.ts";
import type { Bus, RunBuses } from "./events.ts";
import type { BatchChunkEvent, RunEvent, RunsChangedEvent } from "./types.ts";

const PREFIX = "gradstream:";

interface Envelope {
  topic: string;
  event: unknown;
}

class RedisBus<T> implements Bus<T> {
  readonly local: Broadcaster<T>;

  constructor(
    private readonly pub: Redis,
    readonly channel: string,
    maxQueued: number,
    private readonly revive: (event: unknown) => T,
  ) {
    this.local = new Broadcaster<T>({ maxQueued });
  }

  publish(topic: string, event: T): void {
    const body = JSON.stringify({ topic, event } satisfies Envelope);
    this.pub.publish(this.channel, body).catch((err: unknown) => {
      // Fire-and-forget by design: the database holds the event; the fallback or a replay delivers it.
      if (!this.failing) console.error(`gradstream: redis publish on ${this.channel} failed: ${String(err)}`);
      this.failing = true;
    });
  }

  /** Set after a failed publish (logged once), cleared when Redis is ready again. */
  failing = false;

  deliver(message: string): void {
    const env = JSON.parse(message) as Envelope;
    this.deliverLocal(env.topic, this.revive(env.event));
  }

  /** The last step delivered per topic (batches only), where the database fallback takes up. */
  readonly delivered = new Map<string, number>();

  deliverLocal(topic: string, event: T): void {
    const last = (event as { lastStep?: unknown }).lastStep;
    if (typeof last === "number" && last > (this.delivered.get(topic) ?? -1)) this.delivered.set(topic, last);
    this.local.publish(topic, event);
  }

  subscribe(topic: string): AsyncIterableIterator<T> {
    return this.local.subscribe(topic);
  }

  close(topic: string): void {
    this.local.close(topic);
  }
}

export interface RedisBuses extends RunBuses {
  /** Closes both Redis connections (after the run manager closed its topics). */
  quit(): Promise<void>;
}

const same = <T>(e: unknown) => e as T;

/** RunEvent.at is a Date; JSON carries it as an ISO string. */
function reviveRunEvent(e: unknown): RunEvent {
  const ev = e as RunEvent & { at?: string | Date };
  if (ev.kind === "status" && typeof ev.at === "string") return { ...ev, at: new Date(ev.at) };
  return ev;
}

const ENDED: readonly RunStatus[] = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED];

/**
 * While Redis is down: the new rows of each watched run, read from the database and delivered locally
 * (see the file comment). Resolves after one pass over the watched topics.
 */
async function pollDatabase(db: Db, bus: RedisBus<BatchChunkEvent>, page: number): Promise<void> {
  for (const topic of bus.local.activeTopics()) {
    const runId = Number(topic.slice("batches:".length));
    const state = await db.runState(runId);
    if (!state) continue;
    // A topic nothing was delivered on yet starts at the run's newest step: stream.ts replays any gap.
    const after = bus.delivered.get(topic) ?? state.lastStep ?? -1;
    const { rows } = await db.batchMetricsPage(runId, after, page);
    if (rows.length) {
      bus.deliverLocal(topic, { runId, rows, lastStep: rows[rows.length - 1].step, final: false });
      continue;
    }
    // Ended (its status is committed after its last row): the final chunk. An idle EXTERNAL run or an
    // interrupted one may go on, so its stream stays open.
    const ended =
      ENDED.includes(state.status) ||
      (state.status === RunStatus.INTERRUPTED && state.kind === RunKind.TRAINED);
    if (ended) bus.deliverLocal(topic, { runId, rows: [], lastStep: after, final: true });
  }
}

/** Connects a publisher and a subscriber connection and resolves once the subscriptions are active. */
export async function openRedisBuses(
  url: string,
  options: { maxQueued?: number; db?: Db; fallbackPollMs?: number } = {},
): Promise<RedisBuses> {
  const maxQueued = options.maxQueued ?? 256;
  const opts = { lazyConnect: true, maxRetriesPerRequest: 3 };
  const pub = new Redis(url, opts);
  const sub = new Redis(url, opts);
  // ioredis reconnects by itself; without a listener each failed attempt would be logged as unhandled.
  let down = false;
  const onError = (err: Error) => {
    if (down) return;
    down = true;
    console.error(
      `gradstream: redis ${url} unreachable (${err.message}); live batches come from the database until it is back`,
    );
  };
  pub.on("error", onError);
  sub.on("error", onError);
  await Promise.all([pub.connect(), sub.connect()]);
  const batches = new RedisBus<BatchChunkEvent>(pub, `${PREFIX}batches`, maxQueued, same);
  const events = new RedisBus<RunEvent>(pub, `${PREFIX}events`, maxQueued, reviveRunEvent);
  const changes = new RedisBus<RunsChangedEvent>(pub, `${PREFIX}runs`, maxQueued, same);
  const byChannel = new Map<string, { deliver(m: string): void }>([
    [batches.channel, batches],
    [events.channel, events],
    [changes.channel, changes],
  ]);
  sub.on("message", (channel: string, message: string) => {
    try {
      byChannel.get(channel)?.deliver(message);
    } catch (err) {
      console.error(`gradstream: bad message on ${channel}: ${String(err)}`);
    }
  });
  await sub.subscribe(...byChannel.keys());
  const db = options.db;
  let polling = false;
  const timer = db
    ? setInterval(() => {
        const ready = pub.status === "ready" && sub.status === "ready";
        if (ready) {
          if (down) console.error(`gradstream: redis ${url} reachable again`);
          down = false;
          batches.failing = false;
          return;
        }
        if (polling) return;
        polling = true;
        pollDatabase(db, batches, 1_000)
          .catch((err: unknown) =>
            console.error(`gradstream: database fallback for live batches: ${String(err)}`),
          )
          .finally(() => {
            polling = false;
          });
      }, options.fallbackPollMs ?? 250)
    : null;
  timer?.unref();
  return {
    batches,
    events,
    changes,
    async quit() {
      if (timer) clearInterval(timer);
      // quit() waits for a reply that never comes while Redis is down: disconnect() does not.
      await Promise.allSettled(
        [pub, sub].map((r) => (r.status === "ready" ? r.quit() : Promise.resolve(r.disconnect()))),
      );
    },
  };
}
