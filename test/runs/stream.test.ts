import { describe, expect, it } from "vitest";
import { Broadcaster } from "../../src/runs/broadcast.ts";
import { resumable, type StepChunk } from "../../src/runs/stream.ts";

type Chunk = StepChunk<{ step: number }>;

const chunkOf = (from: number, to: number, final = false): Chunk => ({
  rows: Array.from({ length: to - from + 1 }, (_, i) => ({ step: from + i })),
  lastStep: to,
  final,
});
const after = (c: Chunk, step: number): Chunk => ({ ...c, rows: c.rows.filter((r) => r.step > step) });

/** A fake "database" of committed chunks; replay pages through it like the real store does. */
function store(committed: Chunk[], finished: () => boolean) {
  return async (afterStep: number): Promise<Chunk | null> => {
    const next = committed.find((c) => c.lastStep > afterStep);
    if (next) {
      const isLast = finished() && next === committed[committed.length - 1];
      return { ...after(next, afterStep), final: isLast };
    }
    return finished() ? { rows: [], lastStep: afterStep, final: true } : null;
  };
}

async function collect(gen: AsyncGenerator<Chunk>): Promise<number[]> {
  const steps: number[] = [];
  for await (const c of gen) steps.push(...c.rows.map((r) => r.step));
  return steps;
}

describe("resumable batch stream", () => {
  it("replays persisted steps after afterStep, then continues live with no gap and no duplicate", async () => {
    const b = new Broadcaster<Chunk>();
    const committed = [chunkOf(0, 9), chunkOf(10, 19)];
    let done = false;
    const live = b.subscribe("run");
    // Chunk 20..29 was committed before the replay query ran but published after subscribe: it
    // shows up both in the database and on the live queue.
    committed.push(chunkOf(20, 29));
    b.publish("run", chunkOf(20, 29));
    const gen = resumable({ afterStep: 4, live, replay: store(committed, () => done), after });
    const result = collect(gen);
    await new Promise((r) => setTimeout(r, 5));
    committed.push(chunkOf(30, 39));
    done = true;
    b.publish("run", chunkOf(30, 39, true));
    const steps = await result;
    expect(steps).toEqual(Array.from({ length: 35 }, (_, i) => i + 5));
  });

  it("completes after replay alone when the run had already finished", async () => {
    const b = new Broadcaster<Chunk>();
    const gen = resumable({
      afterStep: -1,
      live: b.subscribe("run"),
      replay: store([chunkOf(0, 4), chunkOf(5, 9)], () => true),
      after,
    });
    expect(await collect(gen)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(b.subscriberCount("run")).toBe(0);
  });

  it("ends with an empty final chunk when the client already has every step of a finished run", async () => {
    const b = new Broadcaster<Chunk>();
    const chunks: Chunk[] = [];
    for await (const c of resumable({
      afterStep: 9,
      live: b.subscribe("run"),
      replay: store([chunkOf(0, 9)], () => true),
      after,
    }))
      chunks.push(c);
    expect(chunks).toEqual([{ rows: [], lastStep: 9, final: true }]);
  });
});

// Across processes the live events travel through Redis pub/sub, which may drop one (a reconnect):
// the resumable stream fills such a gap from the database, since a chunk is committed before it is
// published.
describe("a live stream with an event lost in transit", () => {
  it("reads the missing steps from the database and still delivers every step exactly once", async () => {
    const bus = new Broadcaster<Chunk>();
    const committed: Chunk[] = [];
    let finished = false;
    const replay = async (afterStep: number): Promise<Chunk | null> => {
      const next = committed.find((c) => c.lastStep > afterStep);
      if (next) return after(next, afterStep);
      return finished ? { rows: [], lastStep: afterStep, final: true } : null;
    };
    const live = bus.subscribe("run");
    const gen = resumable<Chunk>({ afterStep: -1, live, replay, after });
    const got: number[] = [];
    const reading = (async () => {
      for await (const c of gen) got.push(...c.rows.map((r) => r.step));
    })();
    await new Promise((r) => setTimeout(r, 5));
    for (let from = 0; from < 50; from += 10) {
      committed.push(chunkOf(from, from + 9));
      // Steps 10–19 and 30–39 were committed but their events never arrived.
      if (from !== 10 && from !== 30) bus.publish("run", chunkOf(from, from + 9));
      await new Promise((r) => setTimeout(r, 1));
    }
    finished = true;
    bus.publish("run", { rows: [], lastStep: 49, final: true });
    await reading;
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
