// A subscriber that stops reading must not hurt anyone else: its bounded queue overflows, its
// subscription is ended with the resume error, and the server and the other subscribers carry on.
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  type Chunk,
  collectWs,
  type Live,
  range,
  startLive,
  startNamedRun,
  steps,
} from "../helpers/live-server.ts";

let live: Live;
beforeAll(async () => {
  live = await startLive({ SUBSCRIBER_MAX_QUEUED: "8" });
});
afterAll(() => live.close());

interface WsMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

/** A bare graphql-transport-ws client whose TCP socket can be paused (stops reading entirely). */
async function rawSubscriber(url: string, query: string, variables: Record<string, unknown>) {
  const ws = new WebSocket(url, "graphql-transport-ws");
  const messages: WsMessage[] = [];
  ws.on("message", (data) => messages.push(JSON.parse(String(data)) as WsMessage));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  ws.send(JSON.stringify({ type: "connection_init" }));
  await new Promise<void>((resolve) => {
    const wait = () => (messages.some((m) => m.type === "connection_ack") ? resolve() : setTimeout(wait, 5));
    wait();
  });
  ws.send(JSON.stringify({ id: "s1", type: "subscribe", payload: { query, variables } }));
  // ws keeps the net.Socket private; pausing it is what a client that stops reading looks like.
  const socket = (ws as unknown as { _socket: Socket })._socket;
  return { ws, messages, pause: () => socket.pause(), resume: () => socket.resume() };
}

const ALL_FIELDS = `subscription($runId: ID!) { batchMetrics(runId: $runId) { runId lastStep final
  rows { step epoch batch loss accuracy lr gradNorm confidence trueClassProb samples timeMs } } }`;

describe("a stalled subscriber on a fast run", () => {
  it("is ended with the resume error while the server stays up and the other subscribers get every chunk", async () => {
    // 100,000 steps in 100 chunks of 1,000 rows (~230 KB each as JSON): far more than socket buffers hold.
    const run = await startNamedRun(
      live,
      { model: "linear", dataset: "batch-size" },
      { batchSize: 1, epochs: 100, k: 1000 },
    );
    expect(run.totalSteps).toBe(100_000);
    const runId = run.id;
    const stalled = await rawSubscriber(live.wsUrl, ALL_FIELDS, { runId });
    stalled.pause();
    const healthy = await Promise.all([collectWs(live.wsUrl, runId), collectWs(live.wsUrl, runId)]);
    for (const chunks of healthy) expect(steps(chunks)).toEqual(range(100_000));

    const ping = await live.gql<{ run: { status: string } }>(
      `query($id: ID!) { run(id: $id) { ... on Run { status } } }`,
      { id: runId },
    );
    expect(ping.data?.run.status).toBe("COMPLETED");

    stalled.resume();
    const deadline = Date.now() + 30_000;
    while (
      !stalled.messages.some((m) => m.type === "error" || m.type === "complete") &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const end = stalled.messages.find((m) => m.type === "error" || m.type === "complete");
    expect(end?.type).toBe("error");
    const [error] = (end?.payload ?? []) as {
      message: string;
      extensions: { code: string; resumeAfterStep: number };
    }[];
    expect(error.extensions.code).toBe("SUBSCRIBER_OVERFLOW");
    expect(error.message).toMatch(
      /fell more than 8 events behind .*resubscribe with afterStep set to the last step you received/,
    );
    const received = stalled.messages
      .filter((m) => m.type === "next")
      .map((m) => (m.payload as { data: { batchMetrics: Chunk } }).data.batchMetrics);
    const last = received.at(-1)?.lastStep ?? -1;
    expect(error.extensions.resumeAfterStep).toBe(last);
    expect(last).toBeLessThan(99_999);
    stalled.ws.close();

    // The resume error's advice works: resubscribing after the last received step completes the run.
    const rest = await collectWs(live.wsUrl, runId, last);
    expect([...steps(received), ...steps(rest)]).toEqual(range(100_000));
  });
});
