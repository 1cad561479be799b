// In-process fan-out of run events with a bounded queue per subscriber.
//
// Why not yoga's createPubSub: its Repeater buffers up to 1,024 events per subscriber and then makes
// publish() throw an uncaught RepeaterOverflowError that kills the process (measured on yoga 5). Here a
// publisher never waits on and never fails because of a subscriber: each subscriber has its own queue
// of at most `maxQueued` events, and one that falls further behind is ended with a
// SubscriberOverflowError (the stream is resumable, so the client resubscribes from its last step)
// while everyone else carries on.

export class SubscriberOverflowError extends Error {
  constructor(
    readonly topic: string,
    readonly maxQueued: number,
  ) {
    super(
      `subscriber fell more than ${maxQueued} events behind on ${topic} and was disconnected; ` +
        "resubscribe with afterStep set to the last step you received to resume without a gap",
    );
    this.name = "SubscriberOverflowError";
  }
}

interface Subscriber<T> {
  queue: T[];
  wake: (() => void) | null;
  failed: SubscriberOverflowError | null;
  ended: boolean;
}

export interface BroadcastOptions {
  /** Events a subscriber may have queued before it is disconnected. */
  maxQueued?: number;
}

export class Broadcaster<T> {
  private readonly topics = new Map<string, Set<Subscriber<T>>>();
  private readonly maxQueued: number;

  constructor(options: BroadcastOptions = {}) {
    this.maxQueued = options.maxQueued ?? 256;
  }

  /** Number of live subscribers on a topic (for tests, metrics and limits). */
  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /** The topics that have subscribers now. */
  activeTopics(): string[] {
    return [...this.topics.keys()].filter((t) => this.subscriberCount(t) > 0);
  }

  publish(topic: string, event: T): void {
    const subs = this.topics.get(topic);
    if (!subs) return;
    for (const sub of subs) {
      if (sub.queue.length >= this.maxQueued) {
        sub.failed = new SubscriberOverflowError(topic, this.maxQueued);
        sub.queue.length = 0;
        subs.delete(sub);
      } else {
        sub.queue.push(event);
      }
      sub.wake?.();
    }
  }

  /** Ends every subscription on a topic after what is already queued (e.g. a deleted run). */
  close(topic: string): void {
    const subs = this.topics.get(topic);
    if (!subs) return;
    for (const sub of subs) {
      sub.ended = true;
      sub.wake?.();
    }
    this.topics.delete(topic);
  }

  /**
   * Subscribes immediately (events published after this call are queued even before the first
   * next()), which is what lets a caller replay history from the database and then continue live
   * without a gap.
   */
  subscribe(topic: string): AsyncIterableIterator<T> {
    const sub: Subscriber<T> = { queue: [], wake: null, failed: null, ended: false };
    let subs = this.topics.get(topic);
    if (!subs) {
      subs = new Set();
      this.topics.set(topic, subs);
    }
    subs.add(sub);
    const detach = () => {
      const set = this.topics.get(topic);
      if (!set) return;
      set.delete(sub);
      if (set.size === 0) this.topics.delete(topic);
    };
    const iterator: AsyncIterableIterator<T> = {
      [Symbol.asyncIterator]() {
        return iterator;
      },
      async next(): Promise<IteratorResult<T>> {
        for (;;) {
          if (sub.failed) {
            detach();
            throw sub.failed;
          }
          const event = sub.queue.shift();
          if (event !== undefined) return { value: event, done: false };
          if (sub.ended) {
            detach();
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => {
            sub.wake = resolve;
          });
          sub.wake = null;
        }
      },
      async return(): Promise<IteratorResult<T>> {
        sub.ended = true;
        sub.queue.length = 0;
        detach();
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }
}
