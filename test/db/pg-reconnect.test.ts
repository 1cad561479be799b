// A PostgreSQL server that ends idle connections (restart, failover, pg_terminate_backend) must not
// crash gradstream: the pool drops the dead client and the next query opens a new one.
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { Db } from "../../src/db/index.ts";
import { openPostgresStore } from "../../src/db/postgres.ts";
import { postgresBackend, useDatabase } from "./backends.ts";

const backend = postgresBackend();
let db: Db;
let url: string;
useDatabase(backend, (d, u) => {
  db = d;
  url = u;
});

describe("PostgreSQL connection loss", () => {
  it("survives the server terminating every idle connection and answers the next query", async () => {
    // Only the driver-level store has used the pool so far (no Prisma query yet, so no listener of
    // Prisma's adapter on the pool): the case that crashed a test process in CI.
    expect(await db.batchMetricsPage(1, -1, 10)).toEqual({ rows: [], hasNextPage: false, endStep: null });
    const name = new URL(url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const killed = await admin.query(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name],
    );
    await admin.end();
    expect(killed.rowCount).toBeGreaterThan(0);
    // Give the pool's idle clients time to see their sockets close (the event that used to crash).
    await new Promise((r) => setTimeout(r, 200));
    expect(await db.listModels()).toEqual([]);
    expect(await db.batchMetricsPage(1, -1, 10)).toEqual({ rows: [], hasNextPage: false, endStep: null });
  });

  it("survives the server ending a connection that is checked out between two statements", async () => {
    // A transaction holds its client between statements; pg-pool listens only on idle clients, so an
    // 'error' event there went unheard and Node threw it (seen in CI while PostgreSQL shut down).
    const { store, pool } = await openPostgresStore(url);
    try {
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const killed = await admin.query("SELECT pg_terminate_backend($1) AS ok", [rows[0].pid]);
      await admin.end();
      expect(killed.rows[0].ok).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      await expect(client.query("SELECT 1")).rejects.toThrow();
      client.release();
      expect(await store.all<{ one: number }>("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      await store.close();
    }
  });
});
