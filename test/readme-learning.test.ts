// The README's "Is it still learning?" examples, run as written against the real server: an
// early-stopping run through startRun, and an ASHA sweep whose known-bad learning rates stop at the
// first rung, visible in sweep(id).trials.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gqlData } from "./helpers/gql.ts";
import { dbId } from "./helpers/ids.ts";
import { type Live, useLiveServer } from "./helpers/live-server.ts";

const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");

function named(kind: string, name: string): string {
  const re = /```graphql\n([\s\S]*?)```/g;
  const found = [...README.matchAll(re)]
    .map((m) => m[1])
    .find((b) => b.trimStart().startsWith(`${kind} ${name}`));
  if (!found) throw new Error(`README has no graphql block "${kind} ${name}"`);
  return found;
}

let app: Live["app"];
let url: string;
useLiveServer({}, (live) => {
  ({ app, url } = live);
});

const post = (query: string, variables: Record<string, unknown> = {}) => gqlData(url, query, variables);

async function linearId(): Promise<string> {
  const data = await post("{ models { nodes { id name } } }");
  return (data.models as { nodes: { id: string; name: string }[] }).nodes.find((x) => x.name === "linear")!
    .id;
}

async function finished(id: string): Promise<void> {
  for await (const c of app.runs!.batches(dbId(id), -1)) if (c.final) break;
}

describe("README: is it still learning?", () => {
  it("runs the early-stopping example: the run stops COMPLETED before its last step with a reason, and lists its evaluations", async () => {
    const started = (await post(named("mutation", "EarlyStoppingRun"), { model: await linearId() }))
      .startRun as { id: string; status: string; earlyStopping: Record<string, unknown> };
    expect(started.earlyStopping).toEqual({
      metric: "val_loss",
      mode: "min",
      patience: 2,
      minDelta: 0.01,
      smoothing: 0.9,
    });
    await finished(started.id);
    const run = (await post(named("query", "EarlyStopped"), { id: started.id })).run as {
      status: string;
      stopReason: string | null;
      stoppedAtStep: number | null;
      bestStep: number;
      validationMetrics: { step: number; loss: number }[];
    };
    expect(run.status).toBe("COMPLETED");
    // 5 epochs of 40 steps: 200 steps; evaluations every 20 steps.
    expect(run.stoppedAtStep).toBeLessThan(199);
    expect(run.stopReason).toMatch(
      /^early stopping: val_loss did not improve by more than 0.01 in 2 evaluations/,
    );
    const steps = run.validationMetrics.map((v) => v.step);
    expect(steps[steps.length - 1]).toBe(run.stoppedAtStep);
    expect(steps.filter((s) => s > run.bestStep).length).toBe(2);
    const best = run.validationMetrics.find((v) => v.step === run.bestStep)!;
    for (const v of run.validationMetrics.filter((x) => x.step > run.bestStep))
      expect(v.loss).toBeGreaterThan(best.loss - 0.01);
  });

  it("runs the ASHA example: the two too-small learning rates stop at rung 0, shown by sweep(id).trials", async () => {
    const started = (await post(named("mutation", "AshaSweep"), { model: await linearId() })).startSweep as {
      id: string;
      runs: { nodes: { id: string; hyperparameters: { validation: { everySteps: number } } }[] };
    };
    const sweep = { id: started.id, runs: started.runs.nodes };
    expect(sweep.runs.map((r) => r.hyperparameters.validation.everySteps)).toEqual([20, 20, 20, 20]);
    for (const r of sweep.runs) await finished(r.id);
    const report = (await post(named("query", "AshaReport"), { id: sweep.id })).sweep as {
      completed: number;
      trials: {
        run: { id: string; stoppedAtStep: number | null };
        rung: number;
        promoted: boolean;
        stopped: boolean;
      }[];
    };
    expect(report.completed).toBe(4);
    expect(report.trials[0]).toMatchObject({ rung: 1, promoted: true, stopped: false });
    for (const t of report.trials.slice(2))
      expect(t).toMatchObject({ rung: 0, promoted: false, stopped: true, run: { stoppedAtStep: 19 } });
  });
});
