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

/** An id that names nothing (a run, model, dataset, sweep, experiment). */
export class NotFoundError extends Error {
  override name = "NotFoundError";
  constructor(
    readonly entity: string,
    readonly id: string,
    message = `unknown ${entity} id ${JSON.stringify(id)}; list them with the ${entity}s query`,
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

/** Parses a GraphQL ID holding a database integer id, or throws NotFoundError naming it. */
export function intId(entity: string, id: string | number): number {
  const n = typeof id === "number" ? id : /^\d{1,15}$/.test(id) ? Number(id) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new NotFoundError(entity, String(id));
  return n;
}
