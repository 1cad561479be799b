// runs(filter, orderBy) in SQL: filters and keyset pages over the run columns the list sorts by
// (createdAt order is the id; best validation accuracy, last loss and duration are denormalised,
// indexed columns on Run), tags through the indexed RunTag join. Runs without a value (no validation
// yet, still running) sort last in either direction.
import type { Prisma, PrismaClient, Run, RunStatus } from "../generated/sqlite/client.ts";

/** What a run list can be sorted by: the id (creation order) or a results column. */
export type RunSortKey = "id" | "bestValAccuracy" | "lastLoss" | "durationMs";

export interface ListRunsOptions {
  first: number;
  /** Keyset: the id of the last run of the previous page (its sort value is read back). */
  after?: number | null;
  /** "desc" (newest first, the default) or "asc". */
  order?: "asc" | "desc";
  /** Sort column (default: id); ties are broken by id in the same direction. */
  sortBy?: RunSortKey;
  /**
   * Keyset backward: the runs before `after` in this order (the end of the list when `after` is
   * null), nearest first; the caller reverses them.
   */
  backward?: boolean;
  /** Any of these statuses. */
  status?: RunStatus[];
  modelId?: number;
  /** Runs carrying this tag. */
  tag?: string | null;
  minBestValAccuracy?: number | null;
  maxBestValAccuracy?: number | null;
  minLastLoss?: number | null;
  maxLastLoss?: number | null;
  minDurationMs?: number | null;
  maxDurationMs?: number | null;
}

type Where = Prisma.RunWhereInput;

function range(
  field: "bestValAccuracy" | "lastLoss" | "durationMs",
  min?: number | null,
  max?: number | null,
): Where {
  if (min == null && max == null) return {};
  return { [field]: { ...(min != null ? { gte: min } : {}), ...(max != null ? { lte: max } : {}) } };
}

const flip = (dir: "asc" | "desc") => (dir === "asc" ? "desc" : "asc");

/**
 * Rows after the cursor run in (sortBy, id) order, NULLs last; backward, the rows before it (the
 * same conditions with the direction flipped, and NULLs first).
 */
async function afterCursor(prisma: PrismaClient, opts: ListRunsOptions): Promise<Where> {
  if (opts.after == null) return {};
  const dir = opts.backward ? flip(opts.order ?? "desc") : (opts.order ?? "desc");
  const beyond = (v: number) => (dir === "desc" ? { lt: v } : { gt: v });
  const key = opts.sortBy ?? "id";
  if (key === "id") return { id: beyond(opts.after) };
  const cursor = await prisma.run.findUnique({
    where: { id: opts.after },
    select: { bestValAccuracy: true, lastLoss: true, durationMs: true },
  });
  const v = cursor ? cursor[key] : null;
  if (v === null || v === undefined)
    return opts.backward
      ? { OR: [{ [key]: null, id: beyond(opts.after) }, { [key]: { not: null } }] }
      : { [key]: null, id: beyond(opts.after) };
  const before = [{ [key]: beyond(v) }, { [key]: v, id: beyond(opts.after) }];
  return { OR: opts.backward ? before : [...before, { [key]: null }] };
}

/** The filter's conditions, without a cursor: listRuns pages them, countRuns counts them. */
function filterWhere(opts: Omit<ListRunsOptions, "first">): Where[] {
  return [
    opts.status?.length ? { status: { in: opts.status } } : {},
    opts.modelId !== undefined ? { modelId: opts.modelId } : {},
    opts.tag != null ? { tagRows: { some: { tag: opts.tag } } } : {},
    range("bestValAccuracy", opts.minBestValAccuracy, opts.maxBestValAccuracy),
    range("lastLoss", opts.minLastLoss, opts.maxLastLoss),
    range("durationMs", opts.minDurationMs, opts.maxDurationMs),
  ];
}

/** Up to `first` runs matching the filter, in the order asked, after (or backward, before) the cursor. */
export async function listRuns(prisma: PrismaClient, opts: ListRunsOptions): Promise<Run[]> {
  const dir = opts.backward ? flip(opts.order ?? "desc") : (opts.order ?? "desc");
  const key = opts.sortBy ?? "id";
  const where: Where = { AND: [...filterWhere(opts), await afterCursor(prisma, opts)] };
  const nulls = opts.backward ? "first" : "last";
  const orderBy: Prisma.RunOrderByWithRelationInput[] =
    key === "id" ? [{ id: dir }] : [{ [key]: { sort: dir, nulls } }, { id: dir }];
  return prisma.run.findMany({ where, orderBy, take: opts.first });
}

/** How many runs match the filter (the connection's totalCount). */
export function countRuns(prisma: PrismaClient, opts: Omit<ListRunsOptions, "first">): Promise<number> {
  return prisma.run.count({ where: { AND: filterWhere(opts) } });
}

/** The duration a run's start and end give, ms; null while either is missing. */
export function durationOf(run: { startedAt: Date | null; finishedAt: Date | null }): number | null {
  return run.startedAt && run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null;
}
