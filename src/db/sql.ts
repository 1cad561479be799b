// SQL text shared by both stores. Identifiers are Prisma's model and field names, quoted (valid in
// SQLite and PostgreSQL alike). Integers are inlined after `int()` checks them, so every statement is
// plain text that both drivers run as is and no user text ever reaches SQL.
import type { HistoryPlan } from "./rollup.ts";
import { type BatchRow, type CustomValue, METRICS, type Metric, ROW_FIELDS } from "./types.ts";

export function int(n: number, what = "value"): string {
  if (!Number.isSafeInteger(n)) throw new Error(`${what} must be an integer, got ${String(n)}`);
  return String(n);
}

const cap = (m: string) => m[0].toUpperCase() + m.slice(1);
const ROW_COLUMNS = ROW_FIELDS.map((f) => `"${f}"`).join(", ");

/**
 * Columns n_x, min_x, max_x, sum_x for each metric, from raw rows or from rollups at the plan's level
 * (n_x counts the rows carrying x: an EXTERNAL run may leave a metric out; aggregates skip NULLs).
 */
function rawStats(metrics: readonly Metric[]): string {
  return metrics
    .map(
      (m) =>
        `CAST(COUNT("${m}") AS INTEGER) AS "n_${m}", MIN("${m}") AS "min_${m}", MAX("${m}") AS "max_${m}", SUM("${m}") AS "sum_${m}"`,
    )
    .join(", ");
}
function rollupStats(metrics: readonly Metric[]): string {
  return metrics
    .map(
      (m) =>
        `CAST(SUM("n${cap(m)}") AS INTEGER) AS "n_${m}", MIN("min${cap(m)}") AS "min_${m}", MAX("max${cap(m)}") AS "max_${m}", SUM("sum${cap(m)}") AS "sum_${m}"`,
    )
    .join(", ");
}

/** Custom metric names: letters, digits and `_ . / -` (checked here again: they are inlined as literals). */
export const CUSTOM_NAME = /^[A-Za-z_][A-Za-z0-9_./-]*$/;

function nameLiteral(name: string): string {
  if (!CUSTOM_NAME.test(name)) throw new Error(`invalid custom metric name ${JSON.stringify(name)}`);
  return `'${name}'`;
}

/**
 * Downsampled custom metrics: per (name, output bucket) partial aggregates, from CustomRollup at the
 * plan's levels and raw CustomMetric rows at its edges, like historySql.
 */
export function customHistorySql(runId: number, plan: HistoryPlan, names: readonly string[]): string {
  const w = int(plan.width);
  const run = int(runId, "run id");
  const list = names.map(nameLiteral).join(", ");
  return plan.segments
    .map(({ level, from, to }) => {
      if (level === 1) {
        return (
          `SELECT "name", "step" / ${w} AS "ob", CAST(COUNT(*) AS INTEGER) AS "n", MIN("step") AS "firstStep", MAX("step") AS "lastStep",` +
          ` MIN("value") AS "min", MAX("value") AS "max", SUM("value") AS "sum" FROM "CustomMetric"` +
          ` WHERE "runId" = ${run} AND "step" >= ${int(from)} AND "step" <= ${int(to)} AND "name" IN (${list})` +
          ` GROUP BY "name", "step" / ${w}`
        );
      }
      const l = int(level);
      return (
        `SELECT "name", ("bucket" * ${l}) / ${w} AS "ob", CAST(SUM("count") AS INTEGER) AS "n", MIN("firstStep") AS "firstStep", MAX("lastStep") AS "lastStep",` +
        ` MIN("min") AS "min", MAX("max") AS "max", SUM("sum") AS "sum" FROM "CustomRollup"` +
        ` WHERE "runId" = ${run} AND "name" IN (${list}) AND "level" = ${l} AND "bucket" >= ${int(from / level)} AND "bucket" <= ${int((to + 1) / level - 1)}` +
        ` GROUP BY "name", ("bucket" * ${l}) / ${w}`
      );
    })
    .join(" UNION ALL ");
}

/** The custom values of a run's steps in [from, to], for attaching to a page of batch rows. */
export function customValuesSql(runId: number, from: number, to: number): string {
  return (
    `SELECT "step", "name", "value" FROM "CustomMetric" WHERE "runId" = ${int(runId, "run id")}` +
    ` AND "step" >= ${int(from)} AND "step" <= ${int(to)} ORDER BY "step", "name"`
  );
}

/** The names of a run's custom metrics (one rollup row per name at the coarsest level is enough). */
export function customNamesSql(runId: number): string {
  return `SELECT DISTINCT "name" FROM "CustomRollup" WHERE "runId" = ${int(runId, "run id")} AND "level" = 10000 ORDER BY "name"`;
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

/** Up to `limit` rows before `beforeStep`, nearest first (backward pages of Run.batchMetrics). */
export function pageBeforeSql(runId: number, beforeStep: number, limit: number): string {
  return (
    `SELECT ${ROW_COLUMNS} FROM "BatchMetric" WHERE "runId" = ${int(runId)} AND "step" < ${int(beforeStep)}` +
    ` ORDER BY "step" DESC LIMIT ${int(limit)}`
  );
}

/** The stored rows at the given steps (each checked as an integer). */
export function rowsAtStepsSql(runId: number, steps: readonly number[]): string {
  return (
    `SELECT ${ROW_COLUMNS} FROM "BatchMetric" WHERE "runId" = ${int(runId)}` +
    ` AND "step" IN (${steps.map((s) => int(s, "step")).join(", ")}) ORDER BY "step"`
  );
}

/** The stored custom values at the given steps. */
export function customAtStepsSql(runId: number, steps: readonly number[]): string {
  return (
    `SELECT "step", "name", "value" FROM "CustomMetric" WHERE "runId" = ${int(runId)}` +
    ` AND "step" IN (${steps.map((s) => int(s, "step")).join(", ")})`
  );
}

/**
 * Rejects a row the database would silently mangle (NaN becomes NULL in SQLite), naming step and field.
 * A metric may be null (left out by an EXTERNAL run's trainer); a present one must be finite.
 */
export function validateRows(
  runId: number,
  rows: readonly BatchRow[],
  custom: readonly CustomValue[] = [],
): void {
  for (const row of rows) {
    for (const f of ROW_FIELDS) {
      const v = row[f];
      if (v === null && (METRICS as readonly string[]).includes(f)) continue;
      const ok =
        f === "step" || f === "epoch" || f === "batch" || f === "samples"
          ? Number.isSafeInteger(v) && (v as number) >= 0
          : Number.isFinite(v);
      if (!ok) {
        throw new Error(
          `run ${runId}: batch row at step ${String(row.step)} has ${f} = ${String(v)}; ` +
            `${f === "step" || f === "epoch" || f === "batch" || f === "samples" ? "a non-negative integer" : "a finite number"} is required`,
        );
      }
    }
  }
  for (const c of custom) {
    if (
      !CUSTOM_NAME.test(c.name) ||
      !Number.isSafeInteger(c.step) ||
      c.step < 0 ||
      !Number.isFinite(c.value)
    ) {
      throw new Error(
        `run ${runId}: custom metric ${JSON.stringify(c.name)} at step ${String(c.step)} = ${String(c.value)}; ` +
          "a name of letters, digits and _ . / -, a non-negative integer step and a finite value are required",
      );
    }
  }
}
