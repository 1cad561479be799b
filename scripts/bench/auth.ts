// What auth and the limits cost per request: the same small query over HTTP against an open server
// (no token: the baseline) and against a token-required server with a read token (sha256 + an indexed
// lookup, then trusted for 2 s, so most requests hit the cache). The limits plugins run in both.
// Rounds alternate between the servers so drift hits all alike. Prints one JSON line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createToken } from "../../src/db/tokens.ts";
import { buildApp } from "../../src/server/app.ts";
import { loadConfig } from "../../src/server/config.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_ROUND = 300;
// A small, cheap query, so the per-request cost of auth and the limits is what shows.
const QUERY = JSON.stringify({ query: "{ datasets { nodes { id name classes } } }" });

async function server(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "gradstream-bench-auth-"));
  const app = buildApp(
    loadConfig({
      DATABASE_URL: `file:${join(dir, "b.db")}`,
      PORT: "0",
      HOST: "127.0.0.1",
      NODE_ENV: "test",
      ...env,
    }),
    { log: () => {} },
  );
  const { url } = await app.start();
  return {
    app,
    url,
    async close() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function timeRequests(url: string, token: string | null): Promise<number> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const t0 = performance.now();
  for (let i = 0; i < PER_ROUND; i++) {
    const res = await fetch(url, { method: "POST", headers, body: QUERY });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
  }
  return (performance.now() - t0) / PER_ROUND;
}

const open = await server({});
const required = await server({ GRADSTREAM_AUTH: "required" });
const db = required.app.db;
if (!db) throw new Error("no database");
const { token } = await createToken(db, { name: "bench", scope: "read" });
const times = { open: [] as number[], tokenCached: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  times.open.push(await timeRequests(open.url, null));
  times.tokenCached.push(await timeRequests(required.url, token));
}
await open.close();
await required.close();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(times.open);
console.log(
  JSON.stringify({
    bench: "auth",
    requests: ROUNDS * PER_ROUND,
    openMsPerRequest: +base.toFixed(3),
    tokenMsPerRequest: +median(times.tokenCached).toFixed(3),
    tokenVsOpen: +(median(times.tokenCached) / base).toFixed(3),
  }),
);
