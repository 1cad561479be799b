// Bulk ingest of an EXTERNAL run's rows: POST /runs/{id}/metrics.ndjson, one JSON row per line (the
// fields of logMetrics' MetricRowInput). The fastest way in: no GraphQL document to parse or input
// coercion per field (≈ a third of a large logMetrics call's server time); the rows go straight to the
// checks logMetrics uses (src/runs/external-rows.ts) and the same write path, so the result, the
// idempotency per step and every refusal are logMetrics'. Needs write scope, like a mutation; the edge
// checks (Host, Origin, no simple content types) ran before this.
import type { IncomingMessage, ServerResponse } from "node:http";
import { databaseUnavailable, StorageError } from "../db/index.ts";
import { clipMessage, NotFoundError, ValidationError } from "../errors.ts";
import type { ExternalRuns, LogRow } from "../runs/external.ts";
import { type Auth, AuthError, scopeError } from "./auth.ts";

/** The content types accepted for a POST (the export's GET serves application/x-ndjson too). */
const NDJSON_TYPES = ["application/x-ndjson", "application/jsonl", "application/json-lines"];

/** The fields a row may carry: logMetrics' MetricRowInput. */
const ROW_KEYS = new Set([
  "step",
  "epoch",
  "batch",
  "loss",
  "accuracy",
  "lr",
  "gradNorm",
  "confidence",
  "trueClassProb",
  "samples",
  "timeMs",
  "custom",
]);

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

function failure(status: number, code: string, message: string, extra: Record<string, unknown> = {}): Answer {
  return { status, body: { errors: [{ message, extensions: { code, ...extra } }] } };
}

/** The error answers a client can act on; anything else is rethrown (a 500 from the transport). */
export function errorAnswer(err: unknown): Answer {
  if (err instanceof AuthError) {
    const status = err.extensions.code === "FORBIDDEN" ? 403 : 401;
    return {
      ...failure(status, String(err.extensions.code), err.message),
      headers: status === 401 ? { "www-authenticate": 'Bearer realm="gradstream"' } : {},
    };
  }
  if (err instanceof NotFoundError)
    return failure(404, "NOT_FOUND", err.message, { entity: err.entity, id: err.id });
  if (err instanceof ValidationError)
    return failure(400, "BAD_USER_INPUT", err.message, { field: err.field });
  if (err instanceof StorageError) return failure(503, "STORAGE_UNAVAILABLE", err.message);
  const unreachable = databaseUnavailable(err);
  if (unreachable !== null)
    return failure(
      503,
      "DATABASE_UNAVAILABLE",
      `${unreachable}: send the same rows again shortly (steps already stored are ignored)`,
    );
  throw err;
}

/** The body as text, refusing more than `maxBytes` (413) before reading it all. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string | Answer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  const tooLarge = (n: number) =>
    failure(
      413,
      "PAYLOAD_TOO_LARGE",
      `the body is ${n} bytes or more; the limit is ${maxBytes} bytes (MAX_REQUEST_BYTES): send the rows in several requests`,
    );
  if (declared > maxBytes) return Promise.resolve(tooLarge(declared));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (b: Buffer) => {
      size += b.length;
      if (size > maxBytes) {
        req.removeAllListeners("data");
        req.resume();
        resolve(tooLarge(size));
        return;
      }
      parts.push(b);
    });
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * NDJSON → rows. One JSON.parse over the whole body (as an array) is several times faster than one per
 * line; only when it fails are the lines parsed one by one, to name the first bad one.
 */
export function parseNdjson(text: string): LogRow[] {
  const lines = text.split("\n");
  const kept: string[] = [];
  const lineNo: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line !== "") {
      kept.push(line);
      lineNo.push(i + 1);
    }
  }
  let values: unknown[];
  try {
    values = JSON.parse(`[${kept.join(",")}]`) as unknown[];
    // "1,2" on one line would parse as two values: the counts must agree.
    if (values.length !== kept.length) throw new SyntaxError("more values than lines");
  } catch {
    values = kept.map((line, i) => {
      try {
        return JSON.parse(line) as unknown;
      } catch (err) {
        throw new ValidationError(
          `line ${lineNo[i]}`,
          `line ${lineNo[i]} is not JSON (${(err as Error).message}): send one JSON object per line, like {"step": 0, "loss": 0.69}`,
        );
      }
    });
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new ValidationError(
        `line ${lineNo[i]}`,
        `line ${lineNo[i]} is ${clipMessage(JSON.stringify(v), 100)}; each line must be one JSON object, like {"step": 0, "loss": 0.69}`,
      );
    }
    for (const key in v) {
      if (!ROW_KEYS.has(key)) {
        throw new ValidationError(
          `line ${lineNo[i]}.${clipMessage(key, 100)}`,
          `line ${lineNo[i]} has an unknown field ${clipMessage(JSON.stringify(key), 100)}; accepted: ${[...ROW_KEYS].join(", ")} (other scalars go in "custom")`,
        );
      }
    }
  }
  return values as LogRow[];
}

/** Answers POST /runs/{runId}/metrics.ndjson: 200 with logMetrics' result, or a coded error. */
export async function ingestMetrics(
  opts: { auth: Auth; external: ExternalRuns; maxBytes: number },
  runId: number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let answer: Answer;
  try {
    answer = await ingest(opts, runId, req);
  } catch (err) {
    answer = errorAnswer(err);
  }
  if (answer.status >= 400 && !req.complete) req.resume();
  res
    .writeHead(answer.status, {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...answer.headers,
    })
    .end(JSON.stringify(answer.body));
}

async function ingest(
  opts: { auth: Auth; external: ExternalRuns; maxBytes: number },
  runId: number,
  req: IncomingMessage,
): Promise<Answer> {
  const principal = await opts.auth.authenticate(req.headers.authorization);
  const denied = scopeError(principal, "mutation");
  if (denied) throw denied;
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (!NDJSON_TYPES.includes(type)) {
    return failure(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      `Content-Type "${clipMessage(type, 100)}" is not accepted here: send application/x-ndjson (one JSON row per line)`,
    );
  }
  const body = await readBody(req, opts.maxBytes);
  if (typeof body !== "string") return body;
  const result = await opts.external.log(runId, parseNdjson(body));
  return { status: 200, body: result };
}
