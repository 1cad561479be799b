// Across processes the live events travel through Redis pub/sub, which may drop one (a reconnect):
// the resumable stream fills such a gap from the database, since a chunk is committed before it is
// published.
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
