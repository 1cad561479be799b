// The errors every layer throws for a caller's mistake, in one place, so the GraphQL layer and the
// server map them by class (never by reading a message): each carries what the client needs (the
// entity and id, the input field at fault, the ops) and a message saying what is wrong and what is
// accepted. This module imports nothing, so src/graph aside any layer may use it.

/** Messages quote what was sent; a hostile 1 MB string must not come back (twice) in the error. */
export function clipMessage(message: string, max = 1_000): string {
  return message.length <= max
    ? message
    : `${message.slice(0, max)}… (${message.length - max} more characters)`;
}

/** " (run 12)" for a global ID, so a person reading the message sees the number they know. */
function numbered(id: string): string {
  if (!/^[A-Za-z0-9+/]{4,60}={0,2}$/.test(id) || /^\d+$/.test(id)) return "";
  const m = /^([A-Z][A-Za-z]*):(\d{1,15})$/.exec(Buffer.from(id, "base64").toString());
  return m ? ` (${m[1].toLowerCase()} ${m[2]})` : "";
}

/** An id that names nothing (a run, model, dataset, sweep, experiment). */
export class NotFoundError extends Error {
  override name = "NotFoundError";
  constructor(
    readonly entity: string,
    readonly id: string,
    message = `unknown ${entity} id ${JSON.stringify(id)}${numbered(id)}; list them with the ${entity}s query`,
  ) {
    super(clipMessage(message));
  }
}

/** A bad input value; `field` is its dotted path in the request (e.g. "optimizer.lr"). */
export class ValidationError extends Error {
  override name = "ValidationError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(clipMessage(message));
  }
}

/** A request that is valid but not in this run's state (cancel a finished run, resume a running one). */
export class RunStateError extends ValidationError {
  override name = "RunStateError";
  constructor(message: string, field = "id") {
    super(field, message);
  }
}

/** A model the compiler cannot train: the op types it has no rule for (empty when something else is wrong). */
export class UnsupportedModelError extends Error {
  override name = "UnsupportedModelError";
  constructor(
    message: string,
    readonly ops: string[],
  ) {
    super(message);
  }
}

/** The GraphQL type each entity's global IDs name ("run" → "Run"). */
const TYPENAMES: Record<string, string> = { run: "Run", model: "Model", dataset: "Dataset", sweep: "Sweep" };

/**
 * The global opaque ID of a database row (Relay Global Object Identification): base64 of
 * "<Type>:<id>", the encoding Pothos' relay plugin uses for `id` fields and `node(id:)`.
 */
export function globalId(entity: string, id: number): string {
  return Buffer.from(`${TYPENAMES[entity] ?? entity}:${id}`).toString("base64");
}

/**
 * Parses a GraphQL ID naming a database row: the global ID the API returns (base64 "Run:12"), or the
 * legacy decimal id ("12", deprecated but accepted so clients written before global IDs keep
 * working). An id of another type, or one that is neither form, is a NotFoundError naming it.
 */
export function intId(entity: string, id: string | number): number {
  let n = typeof id === "number" ? id : /^\d{1,15}$/.test(id) ? Number(id) : Number.NaN;
  if (typeof id === "string" && Number.isNaN(n) && /^[A-Za-z0-9+/=_-]{4,64}$/.test(id)) {
    const m = /^([A-Z][A-Za-z]*):(\d{1,15})$/.exec(Buffer.from(id, "base64").toString());
    const want = TYPENAMES[entity] ?? entity;
    if (m && m[1] !== want)
      throw new NotFoundError(entity, id, `id ${JSON.stringify(id)} names a ${m[1]}, not a ${want}`);
    if (m) n = Number(m[2]);
  }
  if (!Number.isSafeInteger(n) || n < 1) throw new NotFoundError(entity, String(id));
  return n;
}
