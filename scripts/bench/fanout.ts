// npm run bench -- fanout: 1,000 graphql-ws subscribers on one run, every batch to every subscriber.
//
// The server (this process) runs gradstream's real schema and transport; a child process holds the
// client sockets, so process.cpuUsage() here is server CPU only. Chunks are synthetic (this measures
// fan-out, not training): every 1/(rate/K) s the "runner" produces K batches at once, as a Loop of K
// steps does, and they are published:
//   baseline   stock yoga createPubSub, one event per batch (K events per chunk), executed per subscriber
//   coalesced  stock yoga createPubSub, one event per chunk, executed per subscriber
//   gradstream bounded Broadcaster, one event per chunk, executed once per chunk for all subscribers
// Latency is from the moment the chunk's batches exist to the moment a client has parsed them (one
// clock: performance.timeOrigin + now() in both processes). Prints one JSON line per configuration and
// the ratios against the baseline. Then a real run (the CNN, ≥50 steps/s) trained by the real app with
// no subscribers and with 1,000: steps/s both ways (the training slowdown) and every batch delivered.
// Options (env): FANOUT_SUBSCRIBERS (1000), FANOUT_RATE (batches/s, 50), FANOUT_K (10),
// FANOUT_SECONDS (10), FANOUT_MODES (baseline,coalesced,gradstream; "" for none), FANOUT_TRAINING
// (1; 0 skips the real run), FANOUT_TRAINING_EPOCHS (10).
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { createClient } from "graphql-ws";
import { createPubSub } from "graphql-yoga";
import WebSocket from "ws";
import { type BatchRow, openDatabase } from "../../src/db/index.ts";
import { Broadcaster } from "../../src/runs/broadcast.ts";
import type { BatchChunkEvent, RunManager } from "../../src/runs/types.ts";
import { schema } from "../../src/schema/index.ts";
import { buildApp, externalRunsFor, MODELS_DIR } from "../../src/server/app.ts";
import { loadConfig } from "../../src/server/config.ts";
import { createContextFactory } from "../../src/server/context.ts";
import { createTransport } from "../../src/server/http.ts";
import { registerBuiltins } from "../../src/server/registry.ts";
import { chunkKey, useSharedSubscriptionExecution } from "../../src/server/shared-execution.ts";

const N = Number(process.env.FANOUT_SUBSCRIBERS ?? 1000);
const RATE = Number(process.env.FANOUT_RATE ?? 50);
const K = Number(process.env.FANOUT_K ?? 10);
const SECONDS = Number(process.env.FANOUT_SECONDS ?? 10);
const QUERY = `subscription($runId: ID!) { batchMetrics(runId: $runId) { runId lastStep final rows { step epoch loss accuracy timeMs } } }`;
const now = () => performance.timeOrigin + performance.now();

type ToChild =
  | { type: "connect"; url: string; n: number; runId: string; live: boolean }
  | { type: "reset" }
  | { type: "report" };
type FromChild =
  | { type: "connected" }
  | { type: "warm"; clients: number }
  | {
      type: "report";
      rows: number;
      minRowsPerClient: number;
      latencies: number[];
      errors: number;
      cpuMs: number;
    };

// ── client side (child process) ───────────────────────────────────────────────────────────────────
async function clients(): Promise<void> {
  const send = (m: FromChild) => process.send?.(m);
  let latencies: number[] = [];
  let rowsSeen: number[] = [];
  let errors = 0;
  let cpu = process.cpuUsage();
  let warm = new Set<number>();
  const all: { dispose(): void | Promise<void> }[] = [];
  process.on("message", (m: ToChild) => {
    if (m.type === "connect") {
      rowsSeen = new Array(m.n).fill(0);
      for (let i = 0; i < m.n; i++) {
        const client = createClient({
          url: m.url,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          lazy: false,
          onNonLazyError: () => {},
          // Real runs have no warm-up chunks: an open socket counts as ready.
          on: { connected: () => (m.live ? warm.add(i) : undefined) },
        });
        all.push(client);
        client.subscribe<{ batchMetrics: { rows: { step: number; timeMs: number }[] } }>(
          { query: QUERY, variables: { runId: m.runId } },
          {
            next: (r) => {
              const rows = r.data?.batchMetrics.rows ?? [];
              if (rows.length === 0) return;
              const t = now();
              if (rows[0].step < 0) {
                warm.add(i);
                return;
              }
              rowsSeen[i] += rows.length;
              // One latency per delivered batch (synthetic chunks carry their creation time).
              if (!m.live) for (const row of rows) latencies.push(t - row.timeMs);
            },
            error: () => errors++,
            complete: () => {},
          },
        );
      }
      send({ type: "connected" });
      const tick = setInterval(() => {
        send({ type: "warm", clients: warm.size });
        if (warm.size === m.n) clearInterval(tick);
      }, 100);
    } else if (m.type === "reset") {
      latencies = [];
      rowsSeen.fill(0);
      errors = 0;
      cpu = process.cpuUsage();
      warm = new Set();
    } else if (m.type === "report") {
      const c = process.cpuUsage(cpu);
      const report: FromChild = {
        type: "report",
        rows: rowsSeen.reduce((a, b) => a + b, 0),
        minRowsPerClient: Math.min(...rowsSeen),
        latencies,
        errors,
        cpuMs: (c.user + c.system) / 1000,
      };
      // Exit only once the report has left: process.exit would drop a message still being written.
      process.send?.(report, () => Promise.all(all.map((c) => c.dispose())).finally(() => process.exit(0)));
    }
  });
}

// ── server side ──────────────────────────────────────────────────────────────────────────────────
type Mode = "baseline" | "coalesced" | "gradstream";

function row(step: number, t: number): BatchRow {
  return {
    step,
    epoch: 0,
    batch: step,
    loss: 0.69 + Math.sin(step) * 0.05,
    accuracy: 0.5,
    lr: 0.01,
    gradNorm: 1,
    confidence: 0.5,
    trueClassProb: 0.5,
    samples: 10,
    timeMs: t,
  };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;

async function measure(mode: Mode): Promise<Record<string, number | string | boolean>> {
  const dir = mkdtempSync(join(tmpdir(), "gradstream-fanout-"));
  const config = loadConfig({ DATABASE_URL: `file:${join(dir, "f.db")}`, NODE_ENV: "production" });
  const db = await openDatabase(config.databaseUrl);
  await registerBuiltins(db, MODELS_DIR);
  const model = await db.findModelByName("linear");
  const dataset = await db.findDatasetByName("linear");
  const run = await db.createRun({
    name: "fanout",
    modelId: model?.id ?? 0,
    datasetId: dataset?.id ?? 0,
    hyperparameters: {},
    seed: 0,
    stepsPerChunk: K,
    totalSteps: 1_000_000,
  });
  const bus = new Broadcaster<BatchChunkEvent>({ maxQueued: 256 });
  const pubsub = createPubSub<{ batches: [runId: number, event: BatchChunkEvent] }>();
  const unused = async (): Promise<never> => {
    throw new Error("not used by the fan-out bench");
  };
  const runs: RunManager = {
    admit: unused,
    start: unused,
    startExperiment: unused,
    cancel: unused,
    resume: unused,
    delete: unused,
    exportModel: unused,
    progress: unused,
    providers: unused,
    close: async () => {},
    batches: (runId) =>
      mode === "gradstream"
        ? bus.subscribe(`batches:${runId}`)
        : (pubsub.subscribe("batches", runId) as AsyncIterableIterator<BatchChunkEvent>),
    runEvents: () => {
      throw new Error("unused");
    },
    runsChanged: () => {
      throw new Error("unused");
    },
  };
  const shared = useSharedSubscriptionExecution({ fields: ["batchMetrics"], keyOf: chunkKey });
  const transport = createTransport({
    schema,
    context: createContextFactory({ db, runs, external: externalRunsFor(db, runs, config), config }),
    plugins: mode === "gradstream" ? [shared] : [],
    // 1,000 handshakes on 2 busy cores can take longer than the default 3 s init timeout.
    connectionInitWaitTimeout: 120_000,
  });
  const url = (await transport.listen(0, "127.0.0.1")).replace(/^http/, "ws");
  const publish = (event: BatchChunkEvent) =>
    mode === "gradstream"
      ? bus.publish(`batches:${run.id}`, event)
      : pubsub.publish("batches", run.id, event);
  /** The runner produced K batches at once: publish them as one chunk, or as K events (baseline). */
  const produce = (firstStep: number, count: number) => {
    const t = now();
    const rows = Array.from({ length: count }, (_, i) => row(firstStep + i, t));
    if (mode === "baseline") {
      for (const r of rows) publish({ runId: run.id, rows: [r], lastStep: r.step, final: false });
    } else {
      publish({ runId: run.id, rows, lastStep: rows[rows.length - 1].step, final: false });
    }
  };

  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, FANOUT_ROLE: "clients" },
    execArgv: ["--import", "tsx"],
  });
  const inbox: FromChild[] = [];
  child.on("message", (m: FromChild) => inbox.push(m));
  const waitFor = async <T extends FromChild["type"]>(
    type: T,
    pred: (m: Extract<FromChild, { type: T }>) => boolean = () => true,
  ) => {
    for (;;) {
      const i = inbox.findIndex((m) => m.type === type && pred(m as Extract<FromChild, { type: T }>));
      if (i >= 0) return inbox.splice(i, 1)[0] as Extract<FromChild, { type: T }>;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  child.send({ type: "connect", url, n: N, runId: String(run.id), live: false } satisfies ToChild);
  await waitFor("connected");
  // Warm-up chunks (negative steps) until every client has one: all subscriptions are live.
  let warmStep = -1_000_000;
  const warmDeadline = performance.now() + 120_000;
  let lastWarm = 0;
  for (;;) {
    produce(warmStep, 1);
    warmStep += 1;
    await new Promise((r) => setTimeout(r, 200));
    for (const m of inbox) if (m.type === "warm") lastWarm = Math.max(lastWarm, m.clients);
    if (lastWarm === N) break;
    if (performance.now() > warmDeadline) throw new Error(`only ${lastWarm} of ${N} subscribers came up`);
  }
  console.error(`# ${mode}: ${N} subscribers live`);
  await new Promise((r) => setTimeout(r, 500));
  child.send({ type: "reset" } satisfies ToChild);
  await new Promise((r) => setTimeout(r, 200));

  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const chunks = Math.round((RATE * SECONDS) / K);
  const interval = (1000 * K) / RATE;
  for (let c = 0; c < chunks; c++) {
    // Keep the schedule (a late tick publishes at once), like a runner that does not wait for clients.
    const due = t0 + c * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    produce(c * K, K);
  }
  const batches = chunks * K;
  // Wait until every client has every batch (or give up after 120 s: the lag is the finding).
  const deadline = performance.now() + 120_000;
  let done = false;
  let report: Extract<FromChild, { type: "report" }> | null = null;
  // Polling the child would add work on both sides: wait until this process goes idle instead.
  while (!done && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    done = performance.now() - t0 > SECONDS * 1000 + 1000 && (await settled());
  }
  async function settled(): Promise<boolean> {
    // Idle server event loop ≈ nothing left to send.
    const a = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 500));
    const b = process.cpuUsage(a);
    return (b.user + b.system) / 1000 < 25;
  }
  const elapsed = (performance.now() - t0) / 1000;
  console.error(
    `# ${mode}: published ${chunks} chunks, drained after ${elapsed.toFixed(1)} s${done ? "" : " (gave up waiting)"}`,
  );
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  child.send({ type: "report" } satisfies ToChild);
  report = await waitFor("report");
  await new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(null);
    const t = setTimeout(() => {
      child.kill();
      resolve(null);
    }, 10_000);
    child.once("exit", () => {
      clearTimeout(t);
      resolve(null);
    });
  });
  const lat = report.latencies.sort((a, b) => a - b);
  const deliveries = batches * N;
  const events = (mode === "baseline" ? batches : chunks) * N;
  const serverCpuMs = (cpu.user + cpu.system) / 1000;
  await transport.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    bench: "fanout",
    mode,
    subscribers: N,
    batchesPerSecond: RATE,
    k: K,
    batches,
    everyBatchToEverySubscriber: report.rows === deliveries && report.minRowsPerClient === batches,
    delivered: report.rows,
    expected: deliveries,
    clientErrors: report.errors,
    p50Ms: +percentile(lat, 0.5).toFixed(1),
    p99Ms: +percentile(lat, 0.99).toFixed(1),
    maxMs: +(lat.at(-1) ?? Number.NaN).toFixed(1),
    // A delivery is one batch reaching one subscriber; an event is one message to one subscriber.
    serverCpuUsPerDelivery: +((serverCpuMs * 1000) / deliveries).toFixed(2),
    serverCpuUsPerEvent: +((serverCpuMs * 1000) / events).toFixed(2),
    serverCpuPercent: +((100 * serverCpuMs) / 1000 / elapsed).toFixed(1),
    clientCpuPercent: +((100 * report.cpuMs) / 1000 / elapsed).toFixed(1),
    loadAverage1m: +loadavg()[0].toFixed(2),
    eventLoopDelayP99Ms: +(loop.percentile(99) / 1e6).toFixed(1),
    sharedExecutions: shared.stats.executions,
    sharedHits: shared.stats.shared,
    drainSeconds: +elapsed.toFixed(1),
  };
}

/**
 * A real run (the CNN of the cnn-dropout experiment, batch 32, Adam, K=10: ≈50–70 steps/s on 2 cores)
 * trained by the real app with `subscribers` graphql-ws subscribers on it: steps/s and whether every
 * batch reached every subscriber. The run is queued behind a blocker run (MAX_CONCURRENT_RUNS=1) so
 * its id is known and every subscriber is attached before its first step.
 */
async function training(
  subscribers: number,
  epochs: number,
): Promise<Record<string, number | string | boolean>> {
  const dir = mkdtempSync(join(tmpdir(), "gradstream-fanout-train-"));
  const config = loadConfig({
    DATABASE_URL: `file:${join(dir, "t.db")}`,
    NODE_ENV: "production",
    PORT: "0",
    HOST: "127.0.0.1",
    MAX_CONCURRENT_RUNS: "1",
    WS_INIT_TIMEOUT_MS: "120000",
  });
  const app = buildApp(config, { log: () => {} });
  const { url } = await app.start();
  const db = app.db;
  const runs = app.runs;
  if (!db || !runs) throw new Error("app did not start");
  const cnn = await db.findModelByName("cnn");
  const data = await db.findDatasetByName("cnn-dropout");
  const linear = await db.findModelByName("linear");
  const blockerData = await db.findDatasetByName("batch-size");
  if (!cnn || !data || !linear || !blockerData) throw new Error("built-ins missing");
  const blocker = await runs.start({
    modelId: linear.id,
    dataset: { id: blockerData.id },
    config: { batchSize: 1, epochs: 1000, k: 1 },
  });
  const run = await runs.start({
    modelId: cnn.id,
    dataset: { id: data.id },
    config: { optimizer: { kind: "adam", lr: 0.001 }, batchSize: 32, epochs, k: 10 },
  });
  let report = null as Extract<FromChild, { type: "report" }> | null;
  let child: ReturnType<typeof fork> | null = null;
  const inbox: FromChild[] = [];
  if (subscribers > 0) {
    child = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, FANOUT_ROLE: "clients" },
      execArgv: ["--import", "tsx"],
    });
    child.on("message", (m: FromChild) => inbox.push(m));
    child.send({
      type: "connect",
      url: url.replace(/^http/, "ws"),
      n: subscribers,
      runId: String(run.id),
      live: true,
    } satisfies ToChild);
    const deadline = performance.now() + 120_000;
    while (!inbox.some((m) => m.type === "warm" && m.clients === subscribers)) {
      if (performance.now() > deadline) throw new Error("subscribers did not connect");
      await new Promise((r) => setTimeout(r, 100));
    }
    // Connected sockets send their subscribe right away; give the server time to attach them all.
    await new Promise((r) => setTimeout(r, 3000));
  }
  const cpu0 = process.cpuUsage();
  await runs.cancel(blocker.id);
  for (;;) {
    const r = await db.getRun(run.id);
    if (r?.status === "COMPLETED" || r?.status === "FAILED") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const done = await db.getRun(run.id);
  if (child) {
    // Let the last chunks drain to every client.
    for (let i = 0; i < 120; i++) {
      const a = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 500));
      const b = process.cpuUsage(a);
      if ((b.user + b.system) / 1000 < 25) break;
    }
    child.send({ type: "report" } satisfies ToChild);
    for (;;) {
      const m = inbox.find((x): x is Extract<FromChild, { type: "report" }> => x.type === "report");
      if (m) {
        report = m;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const c = child;
    await new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.once("exit", resolve)));
  }
  const cpu = process.cpuUsage(cpu0);
  await app.stop();
  rmSync(dir, { recursive: true, force: true });
  const seconds = ((done?.finishedAt?.getTime() ?? 0) - (done?.startedAt?.getTime() ?? 0)) / 1000;
  const steps = done?.stepsCompleted ?? 0;
  return {
    bench: "fanout",
    mode: "training",
    model: "cnn (cnn-dropout), batch 32, Adam, K=10",
    subscribers,
    status: done?.status ?? "?",
    steps,
    stepsPerSecond: +(steps / seconds).toFixed(1),
    everyBatchToEverySubscriber:
      subscribers === 0 ? true : report?.rows === steps * subscribers && report?.minRowsPerClient === steps,
    delivered: report?.rows ?? 0,
    expected: steps * subscribers,
    serverCpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
    loadAverage1m: +loadavg()[0].toFixed(2),
  };
}

async function main(): Promise<void> {
  if (process.env.FANOUT_TRAINING !== "0") {
    const epochs = Number(process.env.FANOUT_TRAINING_EPOCHS ?? 10);
    const alone = await training(0, epochs);
    console.log(JSON.stringify(alone));
    const watched = await training(N, epochs);
    console.log(JSON.stringify(watched));
    console.log(
      JSON.stringify({
        bench: "fanout",
        ratio: `training with ${N} subscribers vs none`,
        stepsPerSecond: +(Number(watched.stepsPerSecond) / Number(alone.stepsPerSecond)).toFixed(2),
      }),
    );
    if (process.env.FANOUT_MODES === "") process.exit(0);
  }
  const only = process.env.FANOUT_MODES ? (process.env.FANOUT_MODES.split(",") as Mode[]) : undefined;
  const modes: Mode[] = only ?? ["baseline", "coalesced", "gradstream"];
  const results: Record<string, Record<string, number | string | boolean>> = {};
  for (const mode of modes) {
    results[mode] = await measure(mode);
    console.log(JSON.stringify(results[mode]));
  }
  const base = results.baseline;
  if (base) {
    for (const mode of modes.filter((m) => m !== "baseline")) {
      const r = results[mode];
      console.log(
        JSON.stringify({
          bench: "fanout",
          ratio: `${mode} vs baseline`,
          serverCpuPerDelivery: +(
            Number(base.serverCpuUsPerDelivery) / Number(r.serverCpuUsPerDelivery)
          ).toFixed(2),
          p50Latency: +(Number(base.p50Ms) / Number(r.p50Ms)).toFixed(2),
          p99Latency: +(Number(base.p99Ms) / Number(r.p99Ms)).toFixed(2),
        }),
      );
    }
  }
  process.exit(0);
}

if (process.env.FANOUT_ROLE === "clients") void clients();
else void main();
