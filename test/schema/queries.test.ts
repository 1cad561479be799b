import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_MODEL_NAMES, makeRun } from "../helpers/fixtures.ts";
import { type Harness, openHarness, rows } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(() => h.close());

describe("models and datasets", () => {
  it("lists the built-in models with their shapes, classes and parameter counts", async () => {
    const r = await h.gql<{
      models: {
        name: string;
        source: string;
        inputShape: number[];
        classes: number;
        parameterCount: number;
        opSummary: Record<string, number>;
      }[];
    }>("{ models { name source inputShape classes parameterCount opSummary } }");
    const byName = Object.fromEntries((r.data?.models ?? []).map((m) => [m.name, m]));
    expect(Object.keys(byName).sort()).toEqual(BUILTIN_MODEL_NAMES);
    expect(byName.linear).toMatchObject({
      source: "BUILTIN",
      inputShape: [10],
      classes: 2,
      parameterCount: 22,
    });
    expect(byName.cnn).toMatchObject({ inputShape: [3, 32, 32], classes: 10 });
    expect(byName.linear.opSummary).toEqual({ Gemm: 1 });
  });

  it("answers model(id) with the model, and an unknown id with a NotFoundError that says how to list models", async () => {
    const linear = await h.db.findModelByName("linear");
    const q =
      "query($id: ID!) { model(id: $id) { __typename ... on Model { name } ... on NotFoundError { message entity id } } }";
    const ok = await h.gql<{ model: { __typename: string; name: string } }>(q, { id: String(linear?.id) });
    expect(ok.data?.model).toEqual({ __typename: "Model", name: "linear" });
    const missing = await h.gql<{ model: Record<string, string> }>(q, { id: "9999" });
    expect(missing.data?.model).toEqual({
      __typename: "NotFoundError",
      message: 'unknown model id "9999"; list them with the models query',
      entity: "model",
      id: "9999",
    });
  });

  it("lists the named datasets with sizes, and the reference experiments", async () => {
    const r = await h.gql<{
      datasets: { name: string; trainSize: number; inputShape: number[] }[];
      experiments: { name: string; reference: boolean }[];
    }>("{ datasets { name trainSize inputShape } experiments { name reference } }");
    const ds = Object.fromEntries((r.data?.datasets ?? []).map((d) => [d.name, d]));
    expect(ds.linear).toEqual({ name: "linear", trainSize: 100, inputShape: [10] });
    expect(ds["cnn-dropout"]).toEqual({ name: "cnn-dropout", trainSize: 1000, inputShape: [3, 32, 32] });
    expect((r.data?.experiments ?? []).filter((e) => e.reference).map((e) => e.name)).toEqual([
      "linear",
      "batch-size",
      "cnn-dropout",
    ]);
  });
});

describe("execution providers", () => {
  it("reports CPU as available and every other provider with its availability and, if missing, why", async () => {
    const r = await h.gql<{
      executionProviders: { name: string; available: boolean; reason: string | null }[];
    }>("{ executionProviders { name available reason } }");
    const ps = r.data?.executionProviders ?? [];
    expect(ps.map((p) => p.name)).toEqual(["CPU", "CUDA", "WEBGPU"]);
    expect(ps[0]).toEqual({ name: "CPU", available: true, reason: null });
    for (const p of ps.filter((x) => !x.available)) expect(p.reason?.length).toBeGreaterThan(10);
  });
});

describe("runs connection", () => {
  it("pages runs newest first with keyset cursors, filters by status, model and tag, and orders oldest first", async () => {
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await makeRun(h.db, { tags: i % 2 === 0 ? ["even"] : ["odd"] }));
    await h.db.updateRun(made[1].id, { status: "COMPLETED" });
    const ids = made.map((r) => String(r.id));
    const q = `query($first: Int, $after: String, $filter: RunFilter, $orderBy: RunOrder! = NEWEST_FIRST) {
      runs(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
        edges { cursor node { id status tags } } pageInfo { hasNextPage endCursor } } }`;
    type Page = {
      runs: {
        edges: { node: { id: string; status: string } }[];
        pageInfo: { hasNextPage: boolean; endCursor: string };
      };
    };
    const p1 = await h.gql<Page>(q, { first: 2 });
    expect(p1.data?.runs.edges.map((e) => e.node.id)).toEqual([ids[4], ids[3]]);
    expect(p1.data?.runs.pageInfo.hasNextPage).toBe(true);
    const p2 = await h.gql<Page>(q, { first: 2, after: p1.data?.runs.pageInfo.endCursor });
    expect(p2.data?.runs.edges.map((e) => e.node.id)).toEqual([ids[2], ids[1]]);
    const completed = await h.gql<Page>(q, { filter: { status: ["COMPLETED"] } });
    expect(completed.data?.runs.edges.map((e) => e.node.id)).toEqual([ids[1]]);
    const even = await h.gql<Page>(q, { filter: { tag: "even" }, orderBy: "OLDEST_FIRST" });
    expect(even.data?.runs.edges.map((e) => e.node.id).filter((id) => ids.includes(id))).toEqual([
      ids[0],
      ids[2],
      ids[4],
    ]);
    const cnn = await h.db.findModelByName("cnn");
    const none = await h.gql<Page>(q, { filter: { model: String(cnn?.id) } });
    expect(none.data?.runs.edges).toEqual([]);
  });

  it("rejects a page size over 100 and a forged cursor with errors naming the argument", async () => {
    const big = await h.gql("{ runs(first: 101) { edges { cursor } } }");
    expect(big.errors?.[0]).toMatchObject({
      message: "first must be an integer from 1 to 100, got 101",
      extensions: { code: "BAD_USER_INPUT", field: "first" },
    });
    const forged = await h.gql('{ runs(after: "bm90LWEtY3Vyc29y") { edges { cursor } } }');
    expect(forged.errors?.[0].extensions).toMatchObject({ field: "after" });
  });
});

describe("a run's fields", () => {
  it("returns model, dataset, hyperparameters, batches by keyset page, history, epochs, fluctuation and checkpoints", async () => {
    const run = await makeRun(h.db, { totalSteps: 30 });
    await h.db.writeBatchChunk(run.id, rows(0, 30));
    await h.db.writeEpoch(run.id, {
      epoch: 0,
      trainLoss: 0.8,
      trainAccuracy: 0.55,
      valLoss: null,
      valAccuracy: null,
      batches: 10,
      timeMs: 5,
    });
    await h.db.saveCheckpoint(run.id, { step: 29, epoch: 2, state: new Uint8Array(16) });
    const r = await h.gql<{
      run: {
        model: { name: string };
        dataset: { name: string };
        hyperparameters: unknown;
        stepsCompleted: number;
        batchMetrics: {
          edges: { node: { step: number; loss: number } }[];
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
        history: {
          bucketWidth: number;
          buckets: { firstStep: number; lastStep: number; count: number; loss: { mean: number } }[];
        };
        epochs: { epoch: number; trainLoss: number }[];
        fluctuation: {
          window: number;
          points: { step: number }[];
          overall: { batches: number; loss: { mean: number } };
        };
        checkpoints: { step: number; epoch: number }[];
      };
    }>(
      `query($id: ID!) { run(id: $id) { ... on Run {
        model { name } dataset { name } hyperparameters stepsCompleted
        batchMetrics(first: 4, after: null) { edges { node { step loss } } pageInfo { hasNextPage endCursor } }
        history(metrics: [LOSS], maxPoints: 3) { bucketWidth buckets { firstStep lastStep count loss { mean } } }
        epochs { epoch trainLoss }
        fluctuation(window: 10, maxPoints: 1000) { window points { step } overall { batches loss { mean } } }
        checkpoints { step epoch } } } }`,
      { id: String(run.id) },
    );
    expect(r.errors).toBeUndefined();
    const got = r.data?.run;
    expect(got?.model.name).toBe("linear");
    expect(got?.dataset.name).toBe("linear");
    expect(got?.hyperparameters).toEqual({ optimizer: { kind: "sgd", lr: 0.01 }, batchSize: 10, epochs: 10 });
    expect(got?.stepsCompleted).toBe(30);
    expect(got?.batchMetrics.edges.map((e) => e.node.step)).toEqual([0, 1, 2, 3]);
    expect(got?.batchMetrics.edges[1].node.loss).toBeCloseTo(0.8, 12);
    expect(got?.batchMetrics.pageInfo.hasNextPage).toBe(true);
    // 30 steps in at most 3 buckets: width 10, each bucket's loss mean is (0.7·4+0.8·3+0.9·3)/10 or similar
    expect(got?.history.bucketWidth).toBe(10);
    expect(got?.history.buckets.map((b) => [b.firstStep, b.lastStep, b.count])).toEqual([
      [0, 9, 10],
      [10, 19, 10],
      [20, 29, 10],
    ]);
    const mean0 = rows(0, 10).reduce((s, x) => s + x.loss, 0) / 10;
    expect(got?.history.buckets[0].loss.mean).toBeCloseTo(mean0, 12);
    expect(got?.epochs).toEqual([{ epoch: 0, trainLoss: 0.8 }]);
    expect(got?.fluctuation.window).toBe(10);
    expect(got?.fluctuation.points.map((p) => p.step)).toEqual(Array.from({ length: 21 }, (_, i) => i + 9));
    expect(got?.fluctuation.overall.batches).toBe(30);
    expect(got?.fluctuation.overall.loss.mean).toBeCloseTo(0.8, 12);
    expect(got?.checkpoints).toEqual([{ step: 29, epoch: 2 }]);

    const next = await h.gql<{ run: { batchMetrics: { edges: { node: { step: number } }[] } } }>(
      `query($id: ID!, $after: String) { run(id: $id) { ... on Run { batchMetrics(first: 3, after: $after) { edges { node { step } } } } } }`,
      { id: String(run.id), after: got?.batchMetrics.pageInfo.endCursor },
    );
    expect(next.data?.run.batchMetrics.edges.map((e) => e.node.step)).toEqual([4, 5, 6]);
  });

  it("compares runs of different lengths on a shared progress axis", async () => {
    const long = await makeRun(h.db, { totalSteps: 100 });
    const short = await makeRun(h.db, { totalSteps: 10 });
    await h.db.writeBatchChunk(long.id, rows(0, 100));
    await h.db.writeBatchChunk(short.id, rows(0, 10));
    const r = await h.gql<{
      compareRuns: {
        run: { id: string };
        metric: string;
        points: { step: number; progress: number; mean: number }[];
      }[];
    }>(
      "query($ids: [ID!]!) { compareRuns(ids: $ids, metric: ACCURACY, maxPoints: 5) { run { id } metric points { step progress mean } } }",
      { ids: [String(long.id), String(short.id)] },
    );
    expect(r.errors).toBeUndefined();
    const [a, b] = r.data?.compareRuns ?? [];
    expect(a.metric).toBe("ACCURACY");
    expect(a.points.length).toBeLessThanOrEqual(5);
    expect(a.points.at(-1)).toMatchObject({ step: 99, progress: 1 });
    expect(b.points.at(-1)).toMatchObject({ step: 9, progress: 1 });
    expect(b.points[0].mean).toBeGreaterThanOrEqual(0.5);
  });

  it("answers an unknown run with a NotFoundError and a bad history request with the argument's range", async () => {
    const miss = await h.gql<{ run: { __typename: string } }>('{ run(id: "424242") { __typename } }');
    expect(miss.data?.run.__typename).toBe("NotFoundError");
    const run = await makeRun(h.db);
    const bad = await h.gql(
      `{ run(id: "${run.id}") { ... on Run { history(maxPoints: 0) { bucketWidth } } } }`,
    );
    expect(bad.errors?.[0]).toMatchObject({
      message: "maxPoints must be from 1 to 10000, got 0",
      extensions: { field: "maxPoints" },
    });
  });
});
