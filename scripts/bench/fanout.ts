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
// the ratios against the baseline. Options (env): FANOUT_SUBSCRIBERS (1000), FANOUT_RATE (batches/s,
// 50), FANOUT_K (10), FANOUT_SECONDS (10).
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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
import { MODELS_DIR } from "../../src/server/app.ts";
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
  | { type: "connect"; url: string; n: number; runId: string }
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
              // One latency per delivered batch.
              for (const row of rows) latencies.push(t - row.timeMs);
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
      send({
        type: "report",
        rows: rowsSeen.reduce((a, b) => a + b, 0),
        minRowsPerClient: Math.min(...rowsSeen),
        latencies,
        errors,
        cpuMs: (c.user + c.system) / 1000,
      });
      Promise.all(all.map((c) => c.dispose())).finally(() => process.exit(0));
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
    context: createContextFactory({ db, runs, config }),
    plugins: mode === "gradstream" ? [shared] : [],
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
  child.send({ type: "connect", url, n: N, runId: String(run.id) } satisfies ToChild);
  await waitFor("connected");
  // Warm-up chunks (negative steps) until every client has one: all subscriptions are live.
  let warmStep = -1_000_000;
  for (;;) {
    produce(warmStep, 1);
    warmStep += 1;
    await new Promise((r) => setTimeout(r, 200));
    if (inbox.some((m) => m.type === "warm" && m.clients === N)) break;
  }
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
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  child.send({ type: "report" } satisfies ToChild);
  report = await waitFor("report");
  await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
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
    eventLoopDelayP99Ms: +(loop.percentile(99) / 1e6).toFixed(1),
    sharedExecutions: shared.stats.executions,
    sharedHits: shared.stats.shared,
  };
}

async function main(): Promise<void> {
  const only = process.env.FANOUT_MODES?.split(",") as Mode[] | undefined;
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
