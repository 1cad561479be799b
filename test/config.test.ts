import { resolve } from "node:path";
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
  it("leaves each run's intra-op threads to its share of the cores unless THREADS_PER_RUN says", () => {
    expect(loadConfig({}).threadsPerRun).toBeNull();
    expect(loadConfig({ THREADS_PER_RUN: "0" }).threadsPerRun).toBeNull();
    expect(loadConfig({ THREADS_PER_RUN: "3" }).threadsPerRun).toBe(3);
    expect(() => loadConfig({ THREADS_PER_RUN: "two" })).toThrow(/THREADS_PER_RUN must be an integer/);
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

describe("trainer isolation config", () => {
  it("trains in a child process per run unless TRAINER_ISOLATION=thread", () => {
    expect(loadConfig({}).trainerIsolation).toBe("process");
    expect(loadConfig({ TRAINER_ISOLATION: "thread" }).trainerIsolation).toBe("thread");
  });
  it("rejects another TRAINER_ISOLATION, naming what is accepted", () => {
    expect(() => loadConfig({ TRAINER_ISOLATION: "fork" })).toThrow(
      'TRAINER_ISOLATION must be process or thread, got "fork"',
    );
  });
});

describe("server edge config", () => {
  it("defaults to same-origin only, no extra hosts, no public URL and ./data/datasets", () => {
    expect(loadConfig({})).toMatchObject({
      corsOrigins: [],
      allowedHosts: [],
      publicUrl: null,
      dataDirs: [resolve("data/datasets")],
    });
  });
  it("reads CORS_ORIGINS, ALLOWED_HOSTS, PUBLIC_URL and several DATA_DIR roots", () => {
    expect(
      loadConfig({
        CORS_ORIGINS: "https://Dash.example.com, http://localhost:3000",
        ALLOWED_HOSTS: "gradstream.lan,10.0.0.5:4000",
        PUBLIC_URL: "https://gs.example.com/base/",
        DATA_DIR: "/srv/data:relative/dir",
      }),
    ).toMatchObject({
      corsOrigins: ["https://dash.example.com", "http://localhost:3000"],
      allowedHosts: ["gradstream.lan", "10.0.0.5:4000"],
      publicUrl: "https://gs.example.com/base",
      dataDirs: ["/srv/data", resolve("relative/dir")],
    });
  });
  it('refuses CORS_ORIGINS="*" on an open server, and accepts it when tokens are required', () => {
    expect(() => loadConfig({ CORS_ORIGINS: "*" })).toThrow(
      'CORS_ORIGINS="*" is accepted only when API tokens are required (GRADSTREAM_AUTH=required or a non-loopback HOST); list the origins instead, like CORS_ORIGINS=http://localhost:3000',
    );
    expect(loadConfig({ CORS_ORIGINS: "*", GRADSTREAM_AUTH: "required" }).corsOrigins).toBe("*");
  });
  it("names the variable and the accepted form for a bad origin, host or public URL", () => {
    expect(() => loadConfig({ CORS_ORIGINS: "https://a.example/path" })).toThrow(
      'CORS_ORIGINS must be comma-separated origins like http://localhost:3000 (scheme://host[:port], no path), got "https://a.example/path"',
    );
    expect(() => loadConfig({ ALLOWED_HOSTS: "a b" })).toThrow(
      /^ALLOWED_HOSTS must be comma-separated host names/,
    );
    expect(() => loadConfig({ PUBLIC_URL: "ftp://x" })).toThrow(
      'PUBLIC_URL must be an http(s) URL like https://gradstream.example.com, got "ftp://x"',
    );
  });
});
