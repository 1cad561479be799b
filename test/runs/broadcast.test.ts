import { describe, expect, it } from "vitest";
import { Broadcaster, SubscriberOverflowError } from "../../src/runs/broadcast.ts";

async function take<T>(it: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe("Broadcaster", () => {
  it("delivers events published after subscribe, in order, to every subscriber of the topic only", async () => {
    const b = new Broadcaster<number>();
    const a1 = b.subscribe("run:a");
    const a2 = b.subscribe("run:a");
    const other = b.subscribe("run:b");
    for (let i = 1; i <= 3; i++) b.publish("run:a", i);
    b.publish("run:b", 99);
    expect(await take(a1, 3)).toEqual([1, 2, 3]);
    expect(await take(a2, 3)).toEqual([1, 2, 3]);
    expect(await take(other, 1)).toEqual([99]);
  });

  it("ends a subscriber that falls more than maxQueued behind with a resumable error, and keeps serving the others", async () => {
    const b = new Broadcaster<number>({ maxQueued: 4 });
    const stalled = b.subscribe("t");
    const reader = b.subscribe("t");
    const got: number[] = [];
    for (let i = 1; i <= 10; i++) {
      expect(() => b.publish("t", i)).not.toThrow();
      got.push(...(await take(reader, 1)));
    }
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await expect(stalled.next()).rejects.toBeInstanceOf(SubscriberOverflowError);
    expect(b.subscriberCount("t")).toBe(1);
  });

  it("wakes a waiting reader when an event arrives and completes readers when the topic closes", async () => {
    const b = new Broadcaster<string>();
    const s = b.subscribe("t");
    const pending = s.next();
    b.publish("t", "hello");
    expect(await pending).toEqual({ value: "hello", done: false });
    const waiting = s.next();
    b.close("t");
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(b.subscriberCount("t")).toBe(0);
  });

  it("forgets a subscriber that returns early so nothing is queued for it", async () => {
    const b = new Broadcaster<number>();
    const s = b.subscribe("t");
    await s.return?.();
    b.publish("t", 1);
    expect(b.subscriberCount("t")).toBe(0);
  });
});
