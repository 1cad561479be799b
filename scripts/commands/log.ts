// gradstream log [--name N] [--run ID] [-- COMMAND ARGS…]: streams an unchanged training script's
// printed metrics to a gradstream server. It runs COMMAND (or reads standard input), copies every line
// through unchanged, parses metric lines (scripts/lib/log-parse.ts) into rows of an EXTERNAL run and
// sends them in batches (every 200 ms or 500 rows) to POST /runs/{id}/metrics.ndjson (logMetrics'
// checks and idempotency, without GraphQL's per-field input coercion). When the server is unreachable or
// restarts, rows wait in memory and the same batch is sent again until it is stored: logMetrics is
// idempotent per step, so a batch whose answer was lost is not stored twice. At the end the run is
// finished COMPLETED (exit code 0) or FAILED (the exit code and the last lines of stderr).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { type ParsedRow, parseLine, StepCounter } from "../lib/log-parse.ts";
import { authHeaders, DEFAULT_URL, UsageError } from "../lib/remote.ts";

const HELP = `usage: gradstream log [--name N] [--url ${DEFAULT_URL}] [--token T] [--run ID] [-- COMMAND ARGS…]

Runs COMMAND (or reads standard input) and streams the metrics it prints to a gradstream server as an
EXTERNAL run, live in the dashboard and over graphql-ws. Every line is copied through unchanged.
Understood: JSON lines ({"step": 3, "loss": 0.69, "lr": 0.01}; numeric fields), lines like
"Epoch: 1, Batch Loss: 0.6931, Batch Accuracy: 0.5000", and any "key: number" / "key=number" pairs.
Steps count lines in arrival order unless a line has its own "step".

  --name N        the run's name (default: the command line, or "stdin")
  --run ID        add to an existing EXTERNAL run instead of creating one (steps continue after its last)
  --batch-rows N  rows per logMetrics call, at most (default 500)
  --flush-ms N    send at least this often, ms (default 200)
  --give-up-after S  stop retrying an unreachable server after S seconds (default 600; rows then lost)

Python buffers its output in a pipe: with \`-- python3 train.py\` gradstream sets PYTHONUNBUFFERED=1;
with \`python3 train.py | gradstream log\` use \`python3 -u\` to see rows live.
Exit code: COMMAND's (1 if rows could not be delivered), 2 for bad usage.`;

interface Options {
  url: string;
  token: string | undefined;
  name: string | null;
  runId: number | null;
  batchRows: number;
  flushMs: number;
  giveUpMs: number;
  command: string[];
}

function parseOptions(args: string[]): Options | "help" {
  const dash = args.indexOf("--");
  const own = dash >= 0 ? args.slice(0, dash) : args;
  const command = dash >= 0 ? args.slice(dash + 1) : [];
  const o: Options = {
    url: DEFAULT_URL,
    token: undefined,
    name: null,
    runId: null,
    batchRows: 500,
    flushMs: 200,
    giveUpMs: 600_000,
    command,
  };
  const int = (flag: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${v}"`);
    return n;
  };
  for (let i = 0; i < own.length; i++) {
    const flag = own[i];
    if (flag === "--help" || flag === "-h") return "help";
    const value = own[i + 1];
    if (value === undefined) throw new UsageError(`${flag} needs a value (or unknown option)`);
    i++;
    if (flag === "--url") {
      if (!/^https?:\/\//.test(value)) throw new UsageError(`--url must be an http(s) URL, got "${value}"`);
      o.url = value;
    } else if (flag === "--token") o.token = value;
    else if (flag === "--name") o.name = value;
    else if (flag === "--run") o.runId = int("--run", value, 1, Number.MAX_SAFE_INTEGER);
    else if (flag === "--batch-rows") o.batchRows = int("--batch-rows", value, 1, 10_000);
    else if (flag === "--flush-ms") o.flushMs = int("--flush-ms", value, 1, 60_000);
    else if (flag === "--give-up-after") o.giveUpMs = int("--give-up-after", value, 1, 86_400) * 1000;
    else throw new UsageError(`unknown option "${flag}" (put the command after --)`);
  }
  return o;
}

/** A GraphQL answer, or why there is none: `retry` for the network and server trouble that may pass. */
type Answer<T> = { ok: true; data: T } | { ok: false; retry: boolean; message: string; field?: string };

async function call<T>(o: Options, query: string, variables: Record<string, unknown>): Promise<Answer<T>> {
  let res: Response;
  try {
    res = await fetch(o.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...authHeaders(o.token) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    return { ok: false, retry: true, message: `cannot reach ${o.url} (${why})` };
  }
  if (res.status >= 500 || res.status === 429 || res.status === 408) {
    return { ok: false, retry: true, message: `${o.url} answered HTTP ${res.status}` };
  }
  const body = (await res.json().catch(() => null)) as {
    data?: Record<string, unknown>;
    errors?: { message: string; extensions?: { code?: string } }[];
  } | null;
  if (!body) return { ok: false, retry: res.status >= 500, message: `${o.url} answered HTTP ${res.status}` };
  if (body.errors?.length) {
    const unauth = body.errors.some((e) =>
      ["UNAUTHENTICATED", "FORBIDDEN"].includes(e.extensions?.code ?? ""),
    );
    return {
      ok: false,
      retry: false,
      message: body.errors.map((e) => e.message).join("; ") + (unauth ? " (--token)" : ""),
    };
  }
  const data = body.data as Record<string, { __typename?: string; message?: string; field?: string }>;
  const first = Object.values(data ?? {})[0];
  if (first && (first.__typename === "ValidationError" || first.__typename === "NotFoundError")) {
    return { ok: false, retry: false, message: first.message ?? "refused", field: first.field };
  }
  return { ok: true, data: data as T };
}

/**
 * POST /runs/{id}/metrics.ndjson: the rows as one JSON object per line, the fastest way in (no GraphQL
 * input coercion), with logMetrics' result and refusals.
 */
async function postRows(o: Options, runId: number, rows: Row[]): Promise<Answer<{ stored: number }>> {
  const url = `${o.url.replace(/\/graphql\/?$/, "")}/runs/${runId}/metrics.ndjson`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-ndjson",
        accept: "application/json",
        ...authHeaders(o.token),
      },
      body: rows.map((r) => JSON.stringify(toInput(r))).join("\n"),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    return { ok: false, retry: true, message: `cannot reach ${url} (${why})` };
  }
  const body = (await res.json().catch(() => null)) as {
    stored?: number;
    errors?: { message: string; extensions?: { code?: string; field?: string } }[];
  } | null;
  if (res.ok && typeof body?.stored === "number") return { ok: true, data: { stored: body.stored } };
  const err = body?.errors?.[0];
  // 503 (the database is restarting, the disk is full), 5xx, 429 and 408 may pass: keep the rows.
  if (res.status >= 500 || res.status === 429 || res.status === 408 || !err)
    return {
      ok: false,
      retry: true,
      message: `${url} answered HTTP ${res.status}${err ? `: ${err.message}` : ""}`,
    };
  const unauth = res.status === 401 || res.status === 403;
  return {
    ok: false,
    retry: false,
    message: err.message + (unauth ? " (--token)" : ""),
    field: err.extensions?.field,
  };
}

const CREATE = `mutation Create($input: CreateRunInput!) {
  createRun(input: $input) { __typename ... on Run { id databaseId lastStep } ... on ValidationError { message field } }
}`;
const FIND = `query Find($id: ID!) {
  run(id: $id) { id databaseId kind status lastStep }
}`;
const FINISH = `mutation Finish($runId: ID!, $status: FinishStatus!, $message: String) {
  finishRun(runId: $runId, status: $status, message: $message) { __typename ... on Run { id status } ... on Error { message } }
}`;

/** A created or found run: its global ID, its number and where its stored steps end. */
interface Found {
  id: string;
  databaseId: number;
  lastStep: number | null;
}

interface Row extends Omit<ParsedRow, "step"> {
  step: number;
}

function toInput(r: Row): Record<string, unknown> {
  const { custom, ...rest } = r;
  return Object.keys(custom).length ? { ...rest, custom } : rest;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The sending side: a queue of rows, flushed in order, retried until stored. */
class Sender {
  readonly #o: Options;
  readonly #queue: Row[] = [];
  /** The run's number (what the user sees) and its global ID (what the API takes). */
  #runId: number | null = null;
  #runGid = "";
  #firstStep = 0;
  #flushing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #warnedDown = false;
  failure: string | null = null;
  stored = 0;

  constructor(o: Options) {
    this.#o = o;
  }

  /** Creates (or finds) the run, retrying while the server is unreachable; returns the first free step. */
  async open(deadline: number): Promise<number> {
    for (let wait = 250; ; wait = Math.min(wait * 2, 5_000)) {
      const a =
        this.#o.runId === null
          ? await call<{ createRun: Found }>(this.#o, CREATE, {
              input: {
                name:
                  this.#o.name ??
                  (this.#o.command.length ? this.#o.command.join(" ").slice(0, 200) : "stdin"),
                tags: ["gradstream-log"],
                config: this.#o.command.length ? { command: this.#o.command } : {},
              },
            })
          : await call<{ run: (Found & { kind: string }) | null }>(this.#o, FIND, {
              id: String(this.#o.runId),
            });
      if (a.ok) {
        const run = "createRun" in a.data ? a.data.createRun : a.data.run;
        if (!run) throw new Error(`unknown run id ${this.#o.runId}; list them with gradstream runs`);
        if ("kind" in run && run.kind !== "EXTERNAL")
          throw new Error(`run ${run.databaseId} is ${run.kind}; gradstream log adds only to EXTERNAL runs`);
        this.#runId = run.databaseId;
        this.#runGid = run.id;
        this.#firstStep = (run.lastStep ?? -1) + 1;
        return this.#firstStep;
      }
      if (!a.retry) throw new Error(a.message);
      this.#down(a.message);
      if (Date.now() > deadline) throw new Error(`${a.message}; gave up (--give-up-after)`);
      await sleep(wait);
    }
  }

  get runId(): number | null {
    return this.#runId;
  }

  #down(message: string): void {
    if (this.#warnedDown) return;
    this.#warnedDown = true;
    process.stderr.write(`gradstream log: ${message}; keeping rows and retrying\n`);
  }

  push(row: Row): void {
    this.#queue.push(row);
    if (this.#queue.length >= this.#o.batchRows) this.kick();
    else this.#timer ??= setTimeout(() => this.kick(), this.#o.flushMs);
  }

  kick(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = null;
      if (this.#queue.length) this.#timer ??= setTimeout(() => this.kick(), this.#o.flushMs);
    });
  }

  /** Sends everything queued, batch by batch, each retried until stored or refused. */
  async #flush(): Promise<void> {
    let wait = 250;
    let downSince: number | null = null;
    while (this.#queue.length && this.#runId !== null && this.failure === null) {
      const batch = this.#queue.slice(0, this.#o.batchRows);
      const a = await postRows(this.#o, this.#runId, batch);
      if (a.ok) {
        this.#queue.splice(0, batch.length);
        this.stored += a.data.stored;
        if (this.#warnedDown) process.stderr.write("gradstream log: server reachable again; rows sent\n");
        this.#warnedDown = false;
        wait = 250;
        downSince = null;
        continue;
      }
      if (a.retry) {
        this.#down(a.message);
        downSince ??= Date.now();
        if (Date.now() - downSince > this.#o.giveUpMs) {
          this.failure = `${a.message}; gave up after ${this.#o.giveUpMs / 1000} s with ${this.#queue.length} rows unsent`;
          return;
        }
        await sleep(wait);
        wait = Math.min(wait * 2, 5_000);
        continue;
      }
      // Refused (a step already stored with other values, a limit): drop the row it names, or the batch.
      const step = /step (\d+)/.exec(a.message);
      const at = step ? batch.findIndex((r) => r.step === Number(step[1])) : -1;
      process.stderr.write(
        `gradstream log: ${a.message}; ${at >= 0 ? "that row" : `${batch.length} rows`} left out\n`,
      );
      if (at >= 0) this.#queue.splice(at, 1);
      else this.#queue.splice(0, batch.length);
    }
  }

  /** Waits until everything queued was sent (or given up). */
  async drain(): Promise<void> {
    while (this.#queue.length && this.failure === null) {
      this.kick();
      await this.#flushing;
    }
    await this.#flushing;
  }

  get unsent(): number {
    return this.#queue.length;
  }

  async finish(status: "COMPLETED" | "FAILED" | "CANCELLED", message: string | null): Promise<void> {
    if (this.#runId === null) return;
    const started = Date.now();
    for (let wait = 250; ; wait = Math.min(wait * 2, 5_000)) {
      const a = await call(this.#o, FINISH, { runId: this.#runGid, status, message });
      if (a.ok) return;
      if (!a.retry || Date.now() - started > this.#o.giveUpMs) throw new Error(a.message);
      this.#down(a.message);
      await sleep(wait);
    }
  }
}

/** Splits a stream into lines, calling `line` for each; resolves at its end. */
function lines(stream: Readable, line: (text: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    rl.on("line", line);
    rl.on("close", () => resolve());
  });
}

export async function main(args: string[]): Promise<number> {
  let o: Options | "help";
  try {
    o = parseOptions(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`gradstream log: ${err.message}\n\n${HELP}`);
    return 2;
  }
  if (o === "help") {
    console.log(HELP);
    return 0;
  }
  const sender = new Sender(o);
  const counter = new StepCounter();
  const pending: ParsedRow[] = [];
  let ready = false;
  let warnings = 0;
  const take = (text: string) => {
    const { row, warnings: w } = parseLine(text);
    for (const message of w) {
      if (warnings++ < 20) process.stderr.write(`gradstream log: ${message}\n`);
    }
    if (!row) return;
    if (!ready) pending.push(row);
    else sender.push({ ...row, step: counter.assign(row) });
  };

  // The run is opened while the command already runs: its lines wait in `pending` meanwhile.
  const deadline = Date.now() + o.giveUpMs;
  const opened = sender.open(deadline).then(
    (first) => {
      const base = o.url.replace(/\/graphql\/?$/, "");
      process.stderr.write(`gradstream log: run ${sender.runId} → ${base}/#/runs/${sender.runId}\n`);
      ready = true;
      for (let s = 0; s < first; s++) counter.assign({ step: s, custom: {} });
      for (const row of pending.splice(0)) sender.push({ ...row, step: counter.assign(row) });
      return null;
    },
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );

  let status: "COMPLETED" | "FAILED" | "CANCELLED" = "COMPLETED";
  let message: string | null = null;
  let code = 0;
  if (o.command.length === 0) {
    await lines(process.stdin, (text) => {
      process.stdout.write(`${text}\n`);
      take(text);
    });
  } else {
    const child = spawn(o.command[0], o.command.slice(1), {
      stdio: ["inherit", "pipe", "pipe"],
      // Python block-buffers a piped stdout: lines would arrive only at exit.
      env: { ...process.env, PYTHONUNBUFFERED: "1" },
    });
    const tail: string[] = [];
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
      (resolve) => {
        child.on("error", (error) => resolve({ code: null, signal: null, error }));
        child.on("close", (c, signal) => resolve({ code: c, signal }));
      },
    );
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    process.on("SIGINT", forward("SIGINT"));
    process.on("SIGTERM", forward("SIGTERM"));
    await Promise.all([
      lines(child.stdout, (text) => {
        process.stdout.write(`${text}\n`);
        take(text);
      }),
      lines(child.stderr, (text) => {
        process.stderr.write(`${text}\n`);
        tail.push(text);
        if (tail.length > 20) tail.shift();
        take(text);
      }),
    ]);
    const end = await exited;
    if (end.error) {
      status = "FAILED";
      message = `could not start ${o.command[0]}: ${end.error.message}`;
      code = 127;
      process.stderr.write(`gradstream log: ${message}\n`);
    } else if (end.signal === "SIGINT") {
      status = "CANCELLED";
      message = "interrupted (SIGINT)";
      code = 130;
    } else if (end.code !== 0) {
      status = "FAILED";
      code = end.code ?? 1;
      message = `${end.signal ? `killed by ${end.signal}` : `exit code ${end.code}`}${tail.length ? `; last stderr lines:\n${tail.join("\n")}` : ""}`;
    }
  }
  const openError = await opened;
  if (openError !== null) {
    process.stderr.write(`gradstream log: ${openError}; ${pending.length} rows not sent\n`);
    return code || 1;
  }
  await sender.drain();
  if (sender.failure) {
    process.stderr.write(`gradstream log: ${sender.failure}\n`);
    return code || 1;
  }
  try {
    await sender.finish(status, message);
  } catch (err) {
    process.stderr.write(
      `gradstream log: could not finish run ${sender.runId}: ${err instanceof Error ? err.message : err}\n`,
    );
    return code || 1;
  }
  process.stderr.write(
    `gradstream log: run ${sender.runId} ${status.toLowerCase()}, ${sender.stored} rows stored\n`,
  );
  return code;
}
