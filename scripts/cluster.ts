// A local multi-process gradstream cluster: PostgreSQL 15 and Redis (Debian packages) on free ports,
// N API instances (`gradstream serve --no-train`) and M workers (`gradstream worker`), each a real
// child process. Used by the scale-out integration test and benchmark, and runnable by hand:
//
//   npx tsx scripts/cluster.ts [--apis 2] [--workers 2]     (Ctrl-C stops everything)
//
// PostgreSQL runs as a throwaway cluster (test/helpers/postgres.ts; GRADSTREAM_TEST_PG_URL reuses a
// server), Redis with persistence off (`--save '' --appendonly no`).
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, testPostgres } from "../test/helpers/postgres.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = join(ROOT, "bin", "gradstream.js");
const REDIS = process.env.REDIS_SERVER ?? "/usr/bin/redis-server";

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Everything it printed (stdout and stderr), for diagnostics. */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
}

/** Spawns a process and resolves once a line of its output matches `ready` (rejects on early exit). */
export function spawnReady(
  name: string,
  cmd: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  log?: (line: string) => void,
): Promise<Proc> {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise<Proc>((resolve, reject) => {
    let done = false;
    const onData = (b: Buffer) => {
      const text = b.toString();
      out += text;
      if (log) for (const line of text.split("\n")) if (line.trim()) log(`[${name}] ${line}`);
      if (!done && ready.test(out)) {
        done = true;
        resolve({ name, child, output: () => out, exited });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    exited.then((code) => {
      if (!done) {
        done = true;
        reject(new Error(`${name} exited with ${code} before it was ready:\n${out}`));
      }
    });
  });
}

export interface ClusterOptions {
  apis?: number;
  workers?: number;
  /** Extra environment for every gradstream process (e.g. CHECKPOINT_EVERY, LEASE_MS). */
  env?: Record<string, string>;
  /** Per-worker environment, by index (e.g. MAX_CONCURRENT_RUNS). */
  workerEnv?: (i: number) => Record<string, string>;
  log?: (line: string) => void;
}

export interface LocalCluster {
  databaseUrl: string;
  redisUrl: string;
  /** HTTP GraphQL endpoints of the API instances. */
  apis: { url: string; proc: Proc }[];
  workers: { id: string; proc: Proc }[];
  startApi(): Promise<{ url: string; proc: Proc }>;
  startWorker(id: string, env?: Record<string, string>): Promise<{ id: string; proc: Proc }>;
  stop(): Promise<void>;
}

export async function stopProc(p: Proc, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 15_000);
  await p.exited;
  clearTimeout(timer);
}

/** A throwaway redis-server on a free loopback port, without persistence; ready when this resolves. */
export async function startRedis(): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = await spawnReady(
    "redis",
    REDIS,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {},
    /Ready to accept connections/,
  );
  return { proc, url: `redis://127.0.0.1:${port}` };
}

export async function startLocalCluster(options: ClusterOptions = {}): Promise<LocalCluster> {
  const procs: Proc[] = [];
  const pg = await testPostgres();
  let redis: Proc | null = null;
  try {
    const started = await startRedis();
    redis = started.proc;
    const redisUrl = started.url;
    const base = {
      DATABASE_URL: pg.url,
      REDIS_URL: redisUrl,
      HOST: "127.0.0.1",
      NODE_ENV: "test",
      ...options.env,
    };
    const apis: LocalCluster["apis"] = [];
    const startApi = async () => {
      const port = await freePort();
      const proc = await spawnReady(
        `api${apis.length + 1}`,
        process.execPath,
        [BIN, "serve", "--no-train"],
        { ...base, PORT: String(port) },
        /gradstream serving (http:\/\/\S+)/,
        options.log,
      );
      procs.push(proc);
      const api = { url: `http://127.0.0.1:${port}/graphql`, proc };
      apis.push(api);
      return api;
    };
    // One after another: the first applies the migrations and registers the built-in models.
    for (let i = 0; i < (options.apis ?? 2); i++) await startApi();
    const startWorker = async (id: string, env: Record<string, string> = {}) => {
      const proc = await spawnReady(
        id,
        process.execPath,
        [BIN, "worker"],
        { ...base, WORKER_ID: id, ...env },
        /gradstream worker \S+ training/,
        options.log,
      );
      procs.push(proc);
      return { id, proc };
    };
    const workers = await Promise.all(
      Array.from({ length: options.workers ?? 2 }, (_, i) =>
        startWorker(`w${i + 1}`, options.workerEnv?.(i)),
      ),
    );
    const redisProc = redis;
    return {
      databaseUrl: pg.url,
      redisUrl,
      apis,
      workers,
      startApi,
      startWorker,
      async stop() {
        await Promise.all(procs.map((p) => stopProc(p)));
        await stopProc(redisProc);
        await pg.stop();
      },
    };
  } catch (err) {
    await Promise.all(procs.map((p) => stopProc(p, "SIGKILL")));
    if (redis) await stopProc(redis, "SIGKILL");
    await pg.stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const cluster = await startLocalCluster({
    apis: arg("--apis", 2),
    workers: arg("--workers", 2),
    log: (line) => console.log(line),
  });
  console.log(`PostgreSQL ${cluster.databaseUrl}`);
  console.log(`Redis      ${cluster.redisUrl}`);
  for (const a of cluster.apis) console.log(`API        ${a.url}`);
  for (const w of cluster.workers) console.log(`worker     ${w.id}`);
  console.log("Ctrl-C stops the cluster");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await cluster.stop();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
