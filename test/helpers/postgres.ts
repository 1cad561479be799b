// A fresh PostgreSQL database per test file. With GRADSTREAM_TEST_PG_URL (CI starts a cluster and sets
// it) we CREATE DATABASE on that server; otherwise we start a throwaway PostgreSQL 15 cluster on a free
// port (as the `postgres` user when running as root: initdb refuses root) and stop it afterwards.
import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface TestPostgres {
  /** URL of a new, empty database. */
  url: string;
  /** Drops the database (and stops the cluster if this helper started it). */
  stop(): Promise<void>;
}

function asPostgres(cmd: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  execFileSync(root ? "runuser" : cmd, root ? ["-u", "postgres", "--", cmd, ...args] : args, {
    stdio: "pipe",
  });
}

export interface Cluster {
  adminUrl: string;
  stop(): void;
  /** Stops the server (`pg_ctl stop -m fast`: clients are disconnected), keeping its data. */
  pause(): void;
  /** Starts the paused server again on the same port and data. */
  resume(): void;
}

/** Starts a PostgreSQL 15 cluster on a free port with trust auth for user `gradstream`. */
export async function startCluster(): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "gradstream-pg-"));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  asPostgres(`${PG_BIN}/initdb`, ["-D", `${dir}/data`, "-U", "gradstream", "--auth=trust", "-E", "UTF8"]);
  const start = () =>
    asPostgres(`${PG_BIN}/pg_ctl`, [
      "-D",
      `${dir}/data`,
      "-l",
      `${dir}/log`,
      "-w",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      "start",
    ]);
  start();
  return {
    adminUrl: `postgres://gradstream@127.0.0.1:${port}/postgres`,
    pause: () => asPostgres(`${PG_BIN}/pg_ctl`, ["-D", `${dir}/data`, "-m", "fast", "-w", "stop"]),
    resume: start,
    stop() {
      try {
        asPostgres(`${PG_BIN}/pg_ctl`, ["-D", `${dir}/data`, "-m", "immediate", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface TestPostgresServer {
  /** Creates a new, empty database with a random name and returns its URL. */
  newDatabase(): Promise<string>;
  /** Drops the databases made here (and stops the cluster if this helper started it). */
  stop(): Promise<void>;
}

/** One server per test file: the CI one when GRADSTREAM_TEST_PG_URL is set, else a throwaway cluster. */
/** A TCP port free on 127.0.0.1 right now (the one helper every test and script uses). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function testPostgresServer(): Promise<TestPostgresServer> {
  const fromEnv = process.env.GRADSTREAM_TEST_PG_URL;
  const cluster = fromEnv ? null : await startCluster();
  const adminUrl = fromEnv ?? cluster!.adminUrl;
  const made: string[] = [];
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    async newDatabase() {
      const name = `gradstream_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
      await admin((c) => c.query(`CREATE DATABASE "${name}"`));
      made.push(name);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async stop() {
      if (cluster) {
        cluster.stop();
        return;
      }
      await admin(async (c) => {
        for (const name of made) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
    },
  };
}

/** A single fresh database (for scripts that need exactly one). */
export async function testPostgres(): Promise<TestPostgres> {
  const server = await testPostgresServer();
  return { url: await server.newDatabase(), stop: () => server.stop() };
}
