// The noise diagnostics through the API: startRun's noise settings, the probe's values on the
// subscription and in history/compareRuns as noise.* custom metrics, and Run.noise's report.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gqlData, postGql } from "../helpers/gql.ts";
import { type Live, useLiveServer, wsClient } from "../helpers/live-server.ts";

let live: Live;
useLiveServer({}, (l) => {
  live = l;
});

const gql = (query: string, variables: Record<string, unknown> = {}) => gqlData(live.url, query, variables);

const START = `mutation ($model: ID!, $noise: NoiseInput) {
  startRun(input: { model: $model, datasetSpec: "batch-size-blobs", batchSize: 10, epochs: 1, seed: 3,
                    optimizer: { kind: SGD, lr: 0.1 }, noise: $noise }) {
    ... on Run { id hyperparameters }
    ... on Error { message }
  }
}`;

const REPORT = `query ($id: ID!) { run(id: $id) { ... on Run {
  noise(recent: 5) { enabled batchSize bNoise dominant trend trendChange sentence
    shares { sampling dropout drift probes }
    points { firstStep lastStep cleanLoss observedVariance samplingVariance dropoutVariance driftVariance samplingShare dropoutShare driftShare bNoise } }
  history(metrics: [LOSS], custom: ["noise.b_simple", "noise.clean_loss"], maxPoints: 1000) { buckets { lastStep custom { name mean } } }
} } }`;

interface StreamRow {
  step: number;
  custom: { name: string; value: number }[];
}

async function streamed(runId: string): Promise<StreamRow[]> {
  const client = wsClient(live.wsUrl);
  const rows: StreamRow[] = [];
  try {
    for await (const r of client.iterate<{ batchMetrics: { rows: StreamRow[] } }>({
      query: `subscription ($id: ID!) { batchMetrics(runId: $id, afterStep: -1) {
        rows { step custom(names: ["noise.b_simple", "noise.clean_loss"]) { name value } } } }`,
      variables: { id: runId },
    })) {
      if (r.errors) throw new Error(r.errors.map((e) => e.message).join("; "));
      rows.push(...(r.data?.batchMetrics.rows ?? []));
    }
  } finally {
    await client.dispose();
  }
  return rows;
}

async function linearModel(): Promise<string> {
  const { models } = await gql("{ models { nodes { id name } } }");
  return (models as { nodes: { id: string; name: string }[] }).nodes.find((m) => m.name === "linear")
    ?.id as string;
}

/** The README's `query WhyFluctuate` example, as written. */
function readmeQuery(): string {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const block = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .find((b) => b.trimStart().startsWith("query WhyFluctuate"));
  if (!block) throw new Error('README has no graphql block "query WhyFluctuate"');
  return block;
}

describe("noise diagnostics over the API", () => {
  it("streams the probe's values on their step, stores them for history and compareRuns, and reports the decomposition with a sentence", async () => {
    const start = (await gql(START, { model: await linearModel(), noise: { every: 10, gradBatches: 8 } }))
      .startRun as { id: string; hyperparameters: { noise: Record<string, number> } };
    expect(start.hyperparameters.noise).toMatchObject({ every: 10, gradBatches: 8, probeBatches: 4 });
    const rows = await streamed(start.id);
    const probed = rows.filter((r) => r.custom.length > 0);
    // batch-size-blobs has 1,000 samples: 100 steps of 10, a probe after steps 9, 19, …, 99
    expect(probed.map((r) => r.step)).toEqual([9, 19, 29, 39, 49, 59, 69, 79, 89, 99]);
    expect(probed[0].custom.map((c) => c.name)).toEqual(["noise.b_simple", "noise.clean_loss"]);
    const { run } = (await gql(REPORT, { id: start.id })) as {
      run: {
        noise: {
          enabled: boolean;
          batchSize: number;
          bNoise: number;
          trend: string;
          dominant: string;
          sentence: string;
          shares: { sampling: number; dropout: number; drift: number; probes: number };
          points: { lastStep: number; cleanLoss: number; bNoise: number; dropoutVariance: number }[];
        };
        history: { buckets: { lastStep: number; custom: { name: string; mean: number }[] }[] };
      };
    };
    const report = run.noise;
    expect(report.enabled).toBe(true);
    expect(report.batchSize).toBe(10);
    expect(report.points.map((p) => p.lastStep)).toEqual([9, 19, 29, 39, 49, 59, 69, 79, 89, 99]);
    // the stream's B_simple is the report's: both are the EMAs of the same stored estimates
    const streamedB = probed.map((r) => r.custom.find((c) => c.name === "noise.b_simple")?.value);
    expect(report.points.map((p) => p.bNoise)).toEqual(streamedB.map((b) => expect.closeTo(b as number, 6)));
    expect(report.bNoise).toBeCloseTo(streamedB.at(-1) as number, 6);
    // separable blobs at lr 0.1: the clean loss falls, no dropout in a linear model
    expect(report.trend).toBe("FALLING");
    expect(report.points.every((p) => p.dropoutVariance === 0)).toBe(true);
    expect(report.shares.sampling + report.shares.dropout + report.shares.drift).toBeCloseTo(1, 9);
    expect(report.shares.probes).toBe(5);
    expect(report.sentence).toContain("learning continues");
    expect(report.sentence).toMatch(/B_noise ≈ \d/);
    const clean = run.history.buckets.flatMap((b) => b.custom.filter((c) => c.name === "noise.clean_loss"));
    expect(clean.map((c) => c.mean)).toEqual(report.points.map((p) => expect.closeTo(p.cleanLoss, 6)));
    const compared = (await gql(
      `query ($ids: [ID!]!) { compareRuns(ids: $ids, customMetric: "noise.b_simple", maxPoints: 50) { points { step mean } } }`,
      { ids: [start.id] },
    )) as { compareRuns: { points: { step: number; mean: number }[] }[] };
    expect(compared.compareRuns[0].points.map((p) => p.step)).toEqual([
      9, 19, 29, 39, 49, 59, 69, 79, 89, 99,
    ]);
    // the README's example answers the same report
    const fromReadme = (await gql(readmeQuery(), { id: start.id })) as {
      run: { noise: { sentence: string; bNoise: number; points: unknown[] } };
    };
    expect(fromReadme.run.noise.sentence).toBe(report.sentence);
    expect(fromReadme.run.noise.points.length).toBe(10);
  }, 120_000);

  it("turns the diagnostics off per run: no noise values are stored and the report says so", async () => {
    const start = (await gql(START, { model: await linearModel(), noise: { enabled: false } })).startRun as {
      id: string;
      hyperparameters: { noise: unknown };
    };
    expect(start.hyperparameters.noise).toBe(false);
    const rows = await streamed(start.id);
    expect(rows.length).toBe(100);
    expect(rows.filter((r) => r.custom.length > 0)).toEqual([]);
    const { run } = (await gql(REPORT, { id: start.id })) as {
      run: { noise: { enabled: boolean; points: unknown[]; sentence: string; dominant: string | null } };
    };
    expect(run.noise).toMatchObject({ enabled: false, points: [], dominant: null });
    expect(run.noise.sentence).toContain("No noise probe has run");
  }, 120_000);

  it("refuses bad noise settings naming the field and the accepted range, and creates no run", async () => {
    const before = (
      (await gql("{ runs(first: 100) { edges { node { id } } } }")) as never as {
        runs: { edges: unknown[] };
      }
    ).runs.edges.length;
    const res = await postGql(live.url, START, { model: await linearModel(), noise: { every: 0 } });
    const result = (res.body.data as { startRun: { message?: string } }).startRun;
    expect(result.message).toBe("noise.every must be an integer between 1 and 1000000000, got 0");
    const after = (
      (await gql("{ runs(first: 100) { edges { node { id } } } }")) as never as {
        runs: { edges: unknown[] };
      }
    ).runs.edges.length;
    expect(after).toBe(before);
  });
});
