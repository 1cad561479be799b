// The error classes resolvers throw. @pothos/plugin-errors turns each into its GraphQL type (Error.ts,
// NotFoundError.ts, ValidationError.ts, UnsupportedModelError.ts) on fields that list it.

export class NotFoundError extends Error {
  override name = "NotFoundError";
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`unknown ${entity} id ${JSON.stringify(id)}; list them with the ${entity}s query`);
  }
}

export class ValidationError extends Error {
  override name = "ValidationError";
  constructor(
    /** The input field at fault, as a dotted path (e.g. "optimizer.lr"). */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export class UnsupportedModelError extends Error {
  override name = "UnsupportedModelError";
  constructor(
    message: string,
    /** The op types the compiler has no rule for (empty when something else is wrong). */
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
