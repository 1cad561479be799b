import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/server/config.ts";

describe("config", () => {
  it("defaults to port 4000 on localhost with the embedded SQLite file", () => {
    expect(loadConfig({})).toMatchObject({
      port: 4000,
      host: "localhost",
      databaseUrl: "file:./data/gradstream.db",
    });
  });
  it("rejects a PORT that is not a port number and names the variable", () => {
    expect(() => loadConfig({ PORT: "abc" })).toThrow(
      /PORT must be an integer between 0 and 65535, got "abc"/,
    );
  });
});

describe("scale-out config", () => {
  it("defaults to one process that serves and trains, with no Redis", () => {
    expect(loadConfig({})).toMatchObject({ role: "all", redisUrl: null, leaseMs: 5000, queuePollMs: 250 });
  });
  it("reads the role, Redis URL, worker id and lease settings", () => {
    expect(
      loadConfig({
        GRADSTREAM_ROLE: "worker",
        REDIS_URL: "redis://127.0.0.1:6380",
        WORKER_ID: "gpu-1",
        LEASE_MS: "3000",
        QUEUE_POLL_MS: "100",
        CHECKPOINT_EVERY: "50",
      }),
    ).toMatchObject({
      role: "worker",
      redisUrl: "redis://127.0.0.1:6380",
      workerId: "gpu-1",
      leaseMs: 3000,
      queuePollMs: 100,
      checkpointEvery: 50,
    });
  });
  it("rejects an unknown role and a Redis URL without the redis scheme, naming what is accepted", () => {
    expect(() => loadConfig({ GRADSTREAM_ROLE: "trainer" })).toThrow(
      /GRADSTREAM_ROLE must be all, api or worker, got "trainer"/,
    );
    expect(() => loadConfig({ REDIS_URL: "localhost:6379" })).toThrow(
      /REDIS_URL must look like redis:\/\/host:6379/,
    );
  });
});
