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

/** Rows after the cursor run in (sortBy, id) order, NULLs last. */
async function afterCursor(prisma: PrismaClient, opts: ListRunsOptions): Promise<Where> {
  if (opts.after == null) return {};
  const dir = opts.order ?? "desc";
  const beyond = (v: number) => (dir === "desc" ? { lt: v } : { gt: v });
  const key = opts.sortBy ?? "id";
  if (key === "id") return { id: beyond(opts.after) };
  const cursor = await prisma.run.findUnique({
    where: { id: opts.after },
    select: { bestValAccuracy: true, lastLoss: true, durationMs: true },
  });
  const v = cursor ? cursor[key] : null;
  if (v === null || v === undefined) return { [key]: null, id: beyond(opts.after) };
  return { OR: [{ [key]: beyond(v) }, { [key]: v, id: beyond(opts.after) }, { [key]: null }] };
}

/** Up to `first` runs matching the filter, in the order asked, after the cursor. */
export async function listRuns(prisma: PrismaClient, opts: ListRunsOptions): Promise<Run[]> {
  const dir = opts.order ?? "desc";
  const key = opts.sortBy ?? "id";
  const where: Where = {
    AND: [
      opts.status?.length ? { status: { in: opts.status } } : {},
      opts.modelId !== undefined ? { modelId: opts.modelId } : {},
      opts.tag != null ? { tagRows: { some: { tag: opts.tag } } } : {},
      range("bestValAccuracy", opts.minBestValAccuracy, opts.maxBestValAccuracy),
      range("lastLoss", opts.minLastLoss, opts.maxLastLoss),
      range("durationMs", opts.minDurationMs, opts.maxDurationMs),
      await afterCursor(prisma, opts),
    ],
  };
  const orderBy: Prisma.RunOrderByWithRelationInput[] =
    key === "id" ? [{ id: dir }] : [{ [key]: { sort: dir, nulls: "last" } }, { id: dir }];
  return prisma.run.findMany({ where, orderBy, take: opts.first });
}

/** The duration a run's start and end give, ms; null while either is missing. */
export function durationOf(run: { startedAt: Date | null; finishedAt: Date | null }): number | null {
  return run.startedAt && run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null;
}
