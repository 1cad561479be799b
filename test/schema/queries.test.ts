import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_MODEL_NAMES, makeRun } from "../helpers/fixtures.ts";
import { gid } from "../helpers/ids.ts";
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
        nodes: {
          name: string;
          source: string;
          inputShape: number[];
          classes: number;
          parameterCount: number;
          opSummary: Record<string, number>;
        }[];
      };
    }>("{ models { nodes { name source inputShape classes parameterCount opSummary } } }");
    const byName = Object.fromEntries((r.data?.models.nodes ?? []).map((m) => [m.name, m]));
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

  it("answers model(id) with the model by global or legacy id, null for an unknown id, and an error for another type's id", async () => {
    const linear = await h.db.findModelByName("linear");
    const q = "query($id: ID!) { model(id: $id) { __typename id databaseId name } }";
    const ok = await h.gql<{ model: Record<string, unknown> }>(q, { id: gid("Model", Number(linear?.id)) });
    expect(ok.data?.model).toEqual({
      __typename: "Model",
      id: gid("Model", Number(linear?.id)),
      databaseId: linear?.id,
      name: "linear",
    });
    const legacy = await h.gql<{ model: { name: string } }>(q, { id: String(linear?.id) });
    expect(legacy.data?.model.name).toBe("linear");
    const missing = await h.gql<{ model: null }>(q, { id: gid("Model", 9999) });
    expect(missing).toEqual({ data: { model: null } });
    const wrong = await h.gql<{ model: null }>(q, { id: gid("Run", Number(linear?.id)) });
    expect(wrong.data?.model).toBeNull();
    expect(wrong.errors?.[0].message).toBe(`id "${gid("Run", Number(linear?.id))}" names a Run, not a Model`);
  });

  it("refetches any object by its global id with node and nodes, null for ids that name nothing", async () => {
    const linear = await h.db.findModelByName("linear");
    const dataset = await h.db.findDatasetByName("linear");
    const run = await makeRun(h.db);
    const r = await h.gql<{ node: Record<string, unknown>; nodes: (Record<string, unknown> | null)[] }>(
      `query($run: ID!, $ids: [ID!]!) {
        node(id: $run) { __typename id ... on Run { databaseId } }
        nodes(ids: $ids) { __typename id ... on Model { name } ... on Dataset { name } } }`,
      {
        run: gid("Run", run.id),
        ids: [gid("Model", Number(linear?.id)), gid("Dataset", Number(dataset?.id)), gid("Run", 424242)],
      },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data?.node).toEqual({ __typename: "Run", id: gid("Run", run.id), databaseId: run.id });
    expect(r.data?.nodes).toEqual([
      { __typename: "Model", id: gid("Model", Number(linear?.id)), name: "linear" },
      { __typename: "Dataset", id: gid("Dataset", Number(dataset?.id)), name: "linear" },
      null,
    ]);
  });

  it("lists the named datasets with sizes, and the reference experiments", async () => {
    const r = await h.gql<{
      datasets: { totalCount: number; nodes: { name: string; trainSize: number; inputShape: number[] }[] };
      experiments: { name: string; reference: boolean }[];
    }>("{ datasets { totalCount nodes { name trainSize inputShape } } experiments { name reference } }");
    const ds = Object.fromEntries((r.data?.datasets.nodes ?? []).map((d) => [d.name, d]));
    expect(r.data?.datasets.totalCount).toBe(r.data?.datasets.nodes.length);
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
    const ids = made.map((r) => gid("Run", r.id));
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
    const none = await h.gql<Page>(q, { filter: { model: gid("Model", Number(cnn?.id)) } });
    expect(none.data?.runs.edges).toEqual([]);
  });

  it("pages runs backward with last/before and counts the runs matching the filter", async () => {
    const made = [];
    for (let i = 0; i < 4; i++) made.push(await makeRun(h.db, { tags: ["backward"] }));
    const ids = made.map((r) => gid("Run", r.id));
    const q = `query($last: Int, $before: String) {
      runs(last: $last, before: $before, filter: { tag: "backward" }) {
        totalCount edges { node { id } } pageInfo { hasNextPage hasPreviousPage startCursor } } }`;
    type Page = {
      runs: {
        totalCount: number;
        edges: { node: { id: string } }[];
        pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string };
      };
    };
    // Newest first, so the last two are the two oldest, still in newest-first order.
    const p1 = await h.gql<Page>(q, { last: 2 });
    expect(p1.errors).toBeUndefined();
    expect(p1.data?.runs.totalCount).toBe(4);
    expect(p1.data?.runs.edges.map((e) => e.node.id)).toEqual([ids[1], ids[0]]);
    expect(p1.data?.runs.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const p2 = await h.gql<Page>(q, { last: 2, before: p1.data?.runs.pageInfo.startCursor });
    expect(p2.data?.runs.edges.map((e) => e.node.id)).toEqual([ids[3], ids[2]]);
    expect(p2.data?.runs.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const mixed = await h.gql("{ runs(first: 1, last: 1) { totalCount } }");
    expect(mixed.errors?.[0]).toMatchObject({
      message: "page forward with first/after or backward with last/before, not both in one request",
      extensions: { field: "last" },
    });
  });

  it("pages a results order backward exactly as the reverse of its forward pages, runs without a value included", async () => {
    const accuracies = [0.7, null, 0.9, 0.7, null, 0.8];
    for (const acc of accuracies) {
      const run = await makeRun(h.db, { tags: ["by-accuracy"] });
      if (acc !== null)
        await h.db.writeEpoch(run.id, {
          epoch: 0,
          trainLoss: 0.5,
          trainAccuracy: 0.5,
          valLoss: 0.5,
          valAccuracy: acc,
          batches: 1,
          timeMs: 1,
        });
    }
    type Page = {
      runs: {
        totalCount: number;
        edges: { node: { id: string } }[];
        pageInfo: { endCursor: string; startCursor: string; hasNextPage: boolean; hasPreviousPage: boolean };
      };
    };
    const q = `query($first: Int, $after: String, $last: Int, $before: String) {
      runs(first: $first, after: $after, last: $last, before: $before,
           filter: { tag: "by-accuracy" }, orderBy: BEST_VAL_ACCURACY_HIGHEST_FIRST) {
        totalCount edges { node { id } } pageInfo { endCursor startCursor hasNextPage hasPreviousPage } } }`;
    const forward: string[] = [];
    for (let after: string | null = null; ; ) {
      const p: Page = (await h.gql<Page>(q, { first: 4, after })).data as Page;
      forward.push(...p.runs.edges.map((e) => e.node.id));
      if (!p.runs.pageInfo.hasNextPage) break;
      after = p.runs.pageInfo.endCursor;
    }
    const backward: string[] = [];
    for (let before: string | null = null; ; ) {
      const p: Page = (await h.gql<Page>(q, { last: 4, before })).data as Page;
      expect(p.runs.totalCount).toBe(6);
      backward.unshift(...p.runs.edges.map((e) => e.node.id));
      if (!p.runs.pageInfo.hasPreviousPage) break;
      before = p.runs.pageInfo.startCursor;
    }
    expect(forward).toHaveLength(6);
    expect(backward).toEqual(forward);
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
        epochs: { totalCount: number; nodes: { epoch: number; trainLoss: number }[] };
        fluctuation: {
          window: number;
          points: { step: number }[];
          overall: { batches: number; loss: { mean: number } };
        };
        checkpoints: { totalCount: number; nodes: { step: number; epoch: number }[] };
        exportUrl: string | null;
        config: { optimizer: { kind: string; lr: number }; batchSize: number; epochs: number };
      };
    }>(
      `query($id: ID!) { run(id: $id) {
        model { name } dataset { name } hyperparameters config { optimizer { kind lr } batchSize epochs }
        stepsCompleted exportUrl
        batchMetrics(first: 4, after: null) { edges { node { step loss } } pageInfo { hasNextPage endCursor } }
        history(metrics: [LOSS], maxPoints: 3) { bucketWidth buckets { firstStep lastStep count loss { mean } } }
        epochs { totalCount nodes { epoch trainLoss } }
        fluctuation(window: 10, maxPoints: 1000) { window points { step } overall { batches loss { mean } } }
        checkpoints { totalCount nodes { step epoch } } } }`,
      { id: gid("Run", run.id) },
    );
    expect(r.errors).toBeUndefined();
    const got = r.data?.run;
    expect(got?.model.name).toBe("linear");
    expect(got?.dataset.name).toBe("linear");
    expect(got?.hyperparameters).toEqual({ optimizer: { kind: "sgd", lr: 0.01 }, batchSize: 10, epochs: 10 });
    expect(got?.config).toEqual({ optimizer: { kind: "SGD", lr: 0.01 }, batchSize: 10, epochs: 10 });
    expect(got?.exportUrl).toMatch(new RegExp(`/exports/run-${run.id}\\.onnx$`));
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
    expect(got?.epochs).toEqual({ totalCount: 1, nodes: [{ epoch: 0, trainLoss: 0.8 }] });
    expect(got?.fluctuation.window).toBe(10);
    expect(got?.fluctuation.points.map((p) => p.step)).toEqual(Array.from({ length: 21 }, (_, i) => i + 9));
    expect(got?.fluctuation.overall.batches).toBe(30);
    expect(got?.fluctuation.overall.loss.mean).toBeCloseTo(0.8, 12);
    expect(got?.checkpoints).toEqual({ totalCount: 1, nodes: [{ step: 29, epoch: 2 }] });

    const next = await h.gql<{ run: { batchMetrics: { edges: { node: { step: number } }[] } } }>(
      `query($id: ID!, $after: String) { run(id: $id) { batchMetrics(first: 3, after: $after) { edges { node { step } } } } }`,
      { id: gid("Run", run.id), after: got?.batchMetrics.pageInfo.endCursor },
    );
    expect(next.data?.run.batchMetrics.edges.map((e) => e.node.step)).toEqual([4, 5, 6]);

    type Back = {
      run: {
        batchMetrics: {
          totalCount: number;
          edges: { node: { step: number } }[];
          pageInfo: { hasPreviousPage: boolean; hasNextPage: boolean; startCursor: string };
        };
      };
    };
    const back = `query($id: ID!, $before: String) { run(id: $id) {
      batchMetrics(last: 3, before: $before) { totalCount edges { node { step } } pageInfo { hasPreviousPage hasNextPage startCursor } } } }`;
    const tail = await h.gql<Back>(back, { id: gid("Run", run.id) });
    expect(tail.data?.run.batchMetrics.totalCount).toBe(30);
    expect(tail.data?.run.batchMetrics.edges.map((e) => e.node.step)).toEqual([27, 28, 29]);
    expect(tail.data?.run.batchMetrics.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    const before = await h.gql<Back>(back, {
      id: gid("Run", run.id),
      before: tail.data?.run.batchMetrics.pageInfo.startCursor,
    });
    expect(before.data?.run.batchMetrics.edges.map((e) => e.node.step)).toEqual([24, 25, 26]);
    expect(before.data?.run.batchMetrics.pageInfo.hasNextPage).toBe(true);
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
      { ids: [gid("Run", long.id), String(short.id)] },
    );
    expect(r.errors).toBeUndefined();
    const [a, b] = r.data?.compareRuns ?? [];
    expect(a.metric).toBe("ACCURACY");
    expect(a.points.length).toBeLessThanOrEqual(5);
    expect(a.points.at(-1)).toMatchObject({ step: 99, progress: 1 });
    expect(b.points.at(-1)).toMatchObject({ step: 9, progress: 1 });
    expect(b.points[0].mean).toBeGreaterThanOrEqual(0.5);
  });

  it("answers an unknown run with null and a bad history request with the argument's range", async () => {
    const miss = await h.gql<{ run: null }>(`{ run(id: "${gid("Run", 424242)}") { id } }`);
    expect(miss).toEqual({ data: { run: null } });
    const run = await makeRun(h.db);
    const bad = await h.gql(`{ run(id: "${gid("Run", run.id)}") { history(maxPoints: 0) { bucketWidth } } }`);
    expect(bad.errors?.[0]).toMatchObject({
      message: "maxPoints must be from 1 to 10000, got 0",
      extensions: { field: "maxPoints" },
    });
  });
});
