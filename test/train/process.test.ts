import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { BatchRow } from "../../src/db/types.ts";
import { builtinModelBytes } from "../../src/train/catalog.ts";
import { EXPERIMENTS, RunConfigError } from "../../src/train/config.ts";
import { trainerDeathMessage, trainerLauncherPid } from "../../src/train/process.ts";
import type { TrainEnd } from "../../src/train/runner.ts";
import { startTraining, type TrainingRun } from "../../src/train/thread.ts";

const noTime = (r: BatchRow) => ({ ...r, timeMs: 0 });

async function drain(run: TrainingRun): Promise<{ rows: BatchRow[]; end: TrainEnd }> {
  const rows: BatchRow[] = [];
  for (;;) {
    const r = await run.chunks.next();
    if (r.done) return { rows, end: r.value };
    rows.push(...r.value.rows);
  }
}

describe("training in a child process", () => {
  const linear = builtinModelBytes("linear");
  const config = { ...EXPERIMENTS["linear-blobs"].runs[0], k: 3 };

  it("yields exactly the rows, checkpoints and final state of the in-thread runner", async () => {
    const job = { model: linear, config, checkpointEvery: 10 };
    const child = await startTraining(job, { isolation: "process" });
    expect(child.pid).toBeGreaterThan(0);
    expect(child.pid).not.toBe(process.pid);
    const checkpoints: number[] = [];
    const rows: BatchRow[] = [];
    let end: TrainEnd | undefined;
    for (;;) {
      const r = await child.chunks.next();
      if (r.done) {
        end = r.value;
        break;
      }
      rows.push(...r.value.rows);
      if (r.value.checkpoint) checkpoints.push(r.value.checkpoint.step);
    }
    const inline = await drain(await startTraining(job, { inline: true }));
    expect(rows).toHaveLength(80);
    expect(rows.map(noTime)).toEqual(inline.rows.map(noTime));
    expect(checkpoints).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(end?.status).toBe("completed");
    expect(end?.checkpoint.state).toEqual(inline.end.checkpoint.state);
  });

  it("fails with the signal's name when the trainer process is killed by SIGSEGV mid-run, and this process goes on", async () => {
    const e = EXPERIMENTS["cnn-dropout"];
    const run = await startTraining(
      { model: builtinModelBytes(e.model), config: { ...e.runs[0], epochs: 50 }, threads: 1 },
      { isolation: "process" },
    );
    const first = await run.chunks.next();
    expect(first.done).toBe(false);
    process.kill(run.pid as number, "SIGSEGV");
    const err = await drain(run).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe("TrainerCrash");
    expect((err as Error).message).toMatch(
      /^the trainer process was killed by SIGSEGV \(a segmentation fault in native code\)/,
    );
    // This process still trains.
    const again = await drain(await startTraining({ model: linear, config }, { isolation: "process" }));
    expect(again.rows).toHaveLength(80);
  });

  it("starts trainers from the launcher process, not from this one (whose fork would hold its event loop)", async () => {
    const run = await startTraining({ model: linear, config }, { isolation: "process" });
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm has no ")" here (node).
    const ppid = Number(readFileSync(`/proc/${run.pid}/stat`, "utf8").split(") ")[1].split(" ")[1]);
    expect(ppid).toBe(trainerLauncherPid());
    expect(ppid).not.toBe(process.pid);
    expect((await drain(run)).rows).toHaveLength(80);
  });

  it("finishes a run whose launcher was killed mid-run, and starts the next run from a new launcher", async () => {
    const e = EXPERIMENTS["cnn-dropout"];
    const run = await startTraining(
      { model: builtinModelBytes(e.model), config: { ...e.runs[0], epochs: 1 }, threads: 1 },
      { isolation: "process" },
    );
    const before = trainerLauncherPid();
    expect(before).not.toBeNull();
    process.kill(before as number, "SIGKILL");
    // The rows and the end come straight from the trainer, not through the launcher.
    const { rows, end } = await drain(run);
    expect(rows.length).toBeGreaterThan(0);
    expect(end.status).toBe("completed");
    const again = await drain(await startTraining({ model: linear, config }, { isolation: "process" }));
    expect(again.rows).toHaveLength(80);
    expect(trainerLauncherPid()).not.toBe(before);
  });

  it("rejects a bad configuration from the child process with a RunConfigError naming the field", async () => {
    const err = await startTraining(
      { model: linear, config: { ...config, batchSize: 0 } },
      { isolation: "process" },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunConfigError);
    expect((err as RunConfigError).field).toBe("batchSize");
  });

  it("names the exit code and the last stderr lines of a trainer that exited without a word", () => {
    expect(
      trainerDeathMessage(
        134,
        null,
        "loading\nterminate called after throwing an instance of 'Napi::Error'\n",
      ),
    ).toBe(
      "the trainer process exited with code 134; its last output: loading | terminate called after throwing an instance of 'Napi::Error'",
    );
    expect(trainerDeathMessage(null, "SIGKILL", "")).toBe(
      "the trainer process was killed by SIGKILL (killed, e.g. by the out-of-memory killer)",
    );
  });
});
