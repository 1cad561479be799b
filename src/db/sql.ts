// SQL text shared by both stores. Identifiers are Prisma's model and field names, quoted (valid in
// SQLite and PostgreSQL alike). Integers are inlined after `int()` checks them, so every statement is
// plain text that both drivers run as is and no user text ever reaches SQL.
import type { HistoryPlan } from "./rollup.ts";
import { type BatchRow, type Metric, ROW_FIELDS } from "./types.ts";

export function int(n: number, what = "value"): string {
  if (!Number.isSafeInteger(n)) throw new Error(`${what} must be an integer, got ${String(n)}`);
  return String(n);
}

const cap = (m: string) => m[0].toUpperCase() + m.slice(1);
const ROW_COLUMNS = ROW_FIELDS.map((f) => `"${f}"`).join(", ");

/** Columns min_x, max_x, sum_x for each metric, from raw rows or from rollups at the plan's level. */
function rawStats(metrics: readonly Metric[]): string {
  return metrics
    .map((m) => `MIN("${m}") AS "min_${m}", MAX("${m}") AS "max_${m}", SUM("${m}") AS "sum_${m}"`)
    .join(", ");
}
function rollupStats(metrics: readonly Metric[]): string {
  return metrics
    .map(
      (m) =>
        `MIN("min${cap(m)}") AS "min_${m}", MAX("max${cap(m)}") AS "max_${m}", SUM("sum${cap(m)}") AS "sum_${m}"`,
    )
    .join(", ");
}

export function historySql(runId: number, plan: HistoryPlan, metrics: readonly Metric[]): string {
  const w = int(plan.width);
  const run = int(runId, "run id");
  const extra = metrics.length ? ", " : "";
  return plan.segments
    .map(({ level, from, to }) => {
      if (level === 1) {
        return (
          `SELECT "step" / ${w} AS "ob", CAST(COUNT(*) AS INTEGER) AS "n", MIN("step") AS "firstStep", MAX("step") AS "lastStep"` +
          `${extra}${rawStats(metrics)} FROM "BatchMetric"` +
          ` WHERE "runId" = ${run} AND "step" >= ${int(from)} AND "step" <= ${int(to)} GROUP BY "step" / ${w}`
        );
      }
      const l = int(level);
      return (
        `SELECT ("bucket" * ${l}) / ${w} AS "ob", CAST(SUM("count") AS INTEGER) AS "n", MIN("firstStep") AS "firstStep", MAX("lastStep") AS "lastStep"` +
        `${extra}${rollupStats(metrics)} FROM "MetricRollup"` +
        ` WHERE "runId" = ${run} AND "level" = ${l} AND "bucket" >= ${int(from / level)} AND "bucket" <= ${int((to + 1) / level - 1)}` +
        ` GROUP BY ("bucket" * ${l}) / ${w}`
      );
    })
    .join(" UNION ALL ");
}

/** The baseline the rollups replace: one aggregate over every raw row of the range. */
export function rawHistorySql(
  runId: number,
  from: number,
  to: number,
  width: number,
  metrics: readonly Metric[],
) {
  const w = int(width);
  return (
    `SELECT "step" / ${w} AS "ob", CAST(COUNT(*) AS INTEGER) AS "n", MIN("step") AS "firstStep", MAX("step") AS "lastStep", ${rawStats(metrics)}` +
    ` FROM "BatchMetric" WHERE "runId" = ${int(runId)} AND "step" >= ${int(from)} AND "step" <= ${int(to)}` +
    ` GROUP BY "step" / ${w} ORDER BY 1`
  );
}

export function edgeRowSql(runId: number, from: number, to: number, dir: "ASC" | "DESC"): string {
  return (
    `SELECT ${ROW_COLUMNS} FROM "BatchMetric" WHERE "runId" = ${int(runId)} AND "step" >= ${int(from)}` +
    ` AND "step" <= ${int(to)} ORDER BY "step" ${dir} LIMIT 1`
  );
}

export function pageSql(runId: number, afterStep: number, limit: number): string {
  return (
    `SELECT ${ROW_COLUMNS} FROM "BatchMetric" WHERE "runId" = ${int(runId)} AND "step" > ${int(afterStep)}` +
    ` ORDER BY "step" LIMIT ${int(limit)}`
  );
}

/** Rejects a row the database would silently mangle (NaN becomes NULL in SQLite), naming step and field. */
export function validateRows(runId: number, rows: readonly BatchRow[]): void {
  for (const row of rows) {
    for (const f of ROW_FIELDS) {
      const v = row[f];
      const ok =
        f === "step" || f === "epoch" || f === "batch" || f === "samples"
          ? Number.isSafeInteger(v) && v >= 0
          : Number.isFinite(v);
      if (!ok) {
        throw new Error(
          `run ${runId}: batch row at step ${String(row.step)} has ${f} = ${String(v)}; ` +
            `${f === "step" || f === "epoch" || f === "batch" || f === "samples" ? "a non-negative integer" : "a finite number"} is required`,
        );
      }
    }
  }
}
