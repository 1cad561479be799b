// Relay connection plumbing shared by the keyset-paginated fields (runs, Run.batchMetrics): which way
// a request pages, and the page it gets. Forward pages use first/after, backward ones last/before;
// a backward page is the forward page of the opposite order, reversed, so each needs one query.
import { ValidationError } from "../errors.ts";
import { decodeCursor, encodeCursor } from "./shapes.ts";

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface PageRequest {
  /** true: first/after; false: last/before. */
  forward: boolean;
  size: number;
  /** The decoded after (forward) or before (backward) cursor; null for the start (end). */
  cursor: number | null;
}

function count(name: "first" | "last", n: number | null | undefined, dflt: number, max: number): number {
  const v = n ?? dflt;
  if (!Number.isInteger(v) || v < 1 || v > max)
    throw new ValidationError(name, `${name} must be an integer from 1 to ${max}, got ${String(n)}`);
  return v;
}

function cursor(kind: string, name: "after" | "before", value: string | null | undefined): number | null {
  const n = decodeCursor(kind, value);
  if (Number.isNaN(n)) throw new ValidationError(name, `${name} is not a cursor this connection issued`);
  return n;
}

/** Validates the connection arguments: one direction per request, sizes 1…max, cursors of this kind. */
export function pageRequest(kind: string, args: PageArgs, dflt: number, max: number): PageRequest {
  const backward = args.last != null || args.before != null;
  if (backward && (args.first != null || args.after != null))
    throw new ValidationError(
      "last",
      "page forward with first/after or backward with last/before, not both in one request",
    );
  if (backward)
    return {
      forward: false,
      size: count("last", args.last, dflt, max),
      cursor: cursor(kind, "before", args.before),
    };
  return {
    forward: true,
    size: count("first", args.first, dflt, max),
    cursor: cursor(kind, "after", args.after),
  };
}

/**
 * The page of `items` (at most `size`, fetched in the request's direction: backward items arrive
 * nearest-first and are put back in connection order); `more` says more items exist that way.
 */
export function keysetPage<T>(
  kind: string,
  req: PageRequest,
  items: T[],
  more: boolean,
  key: (item: T) => number,
) {
  const ordered = req.forward ? items : [...items].reverse();
  const edges = ordered.map((node) => ({ cursor: encodeCursor(kind, key(node)), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: req.forward ? more : req.cursor !== null,
      hasPreviousPage: req.forward ? req.cursor !== null : more,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
