// GraphQL over HTTP for queries and mutations, graphql-ws for subscriptions. Streams of batches are
// resumable: a dropped socket or a server-side "resubscribe" error resubscribes with afterStep set to
// the last step received, and rows at or below it are dropped, so every step arrives exactly once.
import { createClient } from "/assets/vendor/graphql-ws/client.js";

const endpoint = "/graphql";

export class GraphQLRequestError extends Error {}

/**
 * The global ID of run number n: the dashboard's URLs carry the short number (Run.databaseId), the
 * API takes global IDs (base64 of "Run:n", the server's encoding).
 */
export const runGlobalId = (n) => btoa(`Run:${n}`);

// The API token lives in sessionStorage (this tab only, gone when it closes), never in a URL: it goes
// out as the Authorization header over HTTP and in connection_init's payload over graphql-ws.
const TOKEN_KEY = "gradstream.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  // Reconnect the socket with the new credentials the next time a subscription needs it.
  client.terminate();
}

/** Headers that carry the token (for fetches outside gql(), such as uploads). */
export function authHeaders() {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

const authListeners = new Set();
/** fn(message) runs when the server refuses our credentials (HTTP 401, graphql-ws close 4401). */
export function onAuthRequired(fn) {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
}
const authRequired = (message) => {
  for (const fn of authListeners) fn(message);
};

/** Runs a query or mutation; throws with the server's messages on errors. */
export async function gql(query, variables = {}) {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      ...authHeaders(),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  const message = body.errors?.map((e) => e.message).join("; ");
  if (res.status === 401) authRequired(message);
  if (body.errors?.length) throw new GraphQLRequestError(message);
  return body.data;
}

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${endpoint}`;

// retryAttempts 0: the client would resend the original afterStep on reconnect; resubscribing here
// lets each retry carry the latest step instead. lazy: the socket opens for the first subscription.
const client = createClient({
  url: wsUrl,
  retryAttempts: 0,
  lazy: true,
  lazyCloseTimeout: 1000,
  connectionParams: () => {
    const token = getToken();
    return token ? { authorization: `Bearer ${token}` } : {};
  },
});

const listeners = new Set();
export function onConnectionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
const notify = (state) => {
  for (const fn of listeners) fn(state);
};
client.on("connected", () => notify("connected"));
client.on("closed", (event) => {
  notify("closed");
  if (event?.code === 4401) authRequired(event.reason || "the server needs an API token");
});

/** For tests: drops the WebSocket as a network failure would. */
export function dropConnection() {
  client.terminate();
}

/**
 * Subscribes and keeps the subscription alive across dropped connections. `variables` is called
 * before every (re)subscription so a caller can move its cursor forward.
 */
export function subscribe(query, variables, { next, done, onState }) {
  let stopped = false;
  let dispose = () => {};
  let retry = 0;
  let finished = false;
  // Each (re)subscription gets a generation; callbacks of an abandoned one are ignored.
  let gen = 0;
  const start = () => {
    if (stopped) return;
    const mine = ++gen;
    const live = (fn) => (arg) => {
      if (mine === gen) fn(arg);
    };
    dispose = client.subscribe(
      { query, variables: variables() },
      {
        next: live((result) => {
          if (result.errors?.length) {
            fail(result.errors);
            return;
          }
          retry = 0;
          onState?.("live");
          if (next(result.data) === "final") finished = true;
        }),
        error: live((err) => (Array.isArray(err) ? fail(err) : again(describe(err)))),
        complete: live(() => {
          if (finished || stopped) done?.();
          else again("stream ended early");
        }),
      },
    );
  };
  // A run that does not exist or an invalid request will not get better by retrying; anything else
  // (SUBSCRIBER_OVERFLOW: this client fell too far behind) resumes from where we are.
  const fail = (errors) => {
    const why = errors.map((e) => e.message).join("; ");
    if (errors.some((e) => FATAL.has(e.extensions?.code))) {
      stopped = true;
      gen++;
      dispose();
      onState?.(`ended: ${why}`);
    } else again(why);
  };
  const again = (why) => {
    if (stopped || finished) return;
    gen++;
    dispose();
    onState?.(`reconnecting (${why})`);
    const wait = Math.min(5000, 200 * 2 ** retry++);
    setTimeout(start, wait);
  };
  start();
  return () => {
    stopped = true;
    gen++;
    dispose();
  };
}

const FATAL = new Set(["NOT_FOUND", "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"]);

const BATCHES = `subscription Batches($runId: ID!, $afterStep: Int!) {
  batchMetrics(runId: $runId, afterStep: $afterStep) {
    lastStep final
    rows { step epoch batch loss accuracy confidence gradNorm }
  }
}`;

/**
 * Every batch of a run after `afterStep`, once each and in order, through reconnects; `onRows` gets
 * each chunk's new rows, `onFinal` fires once when the run has ended.
 */
export function streamBatches(runId, afterStep, { onRows, onFinal, onState }) {
  let last = afterStep;
  return subscribe(BATCHES, () => ({ runId, afterStep: last }), {
    onState,
    next: (data) => {
      const chunk = data.batchMetrics;
      const rows = chunk.rows.filter((r) => r.step > last);
      if (rows.length) {
        last = rows[rows.length - 1].step;
        onRows(rows);
      }
      if (chunk.final) {
        onFinal?.();
        return "final";
      }
      return undefined;
    },
  });
}

function describe(err) {
  if (err instanceof Error) return err.message;
  if (Array.isArray(err)) return err.map((e) => e.message).join("; ");
  return "connection lost";
}
