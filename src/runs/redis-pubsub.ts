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
// ioredis directly rather than @graphql-yoga/redis-event-target: the latter is an EventTarget for
// yoga's createPubSub, whose per-subscriber Repeater is what broadcast.ts exists to avoid.
import { Redis } from "ioredis";
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
      // Fire-and-forget by design: the database holds the event; subscribers replay it on reconnect.
      console.error(`gradstream: redis publish on ${this.channel} failed: ${String(err)}`);
    });
  }

  deliver(message: string): void {
    const env = JSON.parse(message) as Envelope;
    this.local.publish(env.topic, this.revive(env.event));
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

/** Connects a publisher and a subscriber connection and resolves once the subscriptions are active. */
export async function openRedisBuses(url: string, options: { maxQueued?: number } = {}): Promise<RedisBuses> {
  const maxQueued = options.maxQueued ?? 256;
  const opts = { lazyConnect: true, maxRetriesPerRequest: 3 };
  const pub = new Redis(url, opts);
  const sub = new Redis(url, opts);
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
  return {
    batches,
    events,
    changes,
    async quit() {
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}
