// SystemMetric rows: one per persisted chunk of a TRAINED run (CPU time, RSS, wall-clock span,
// throughput, measured by the trainer). Written through the driver right after the chunk's rows, read
// by step range for the API and stream replays. Numbers are inlined after checks (see sql.ts).
import { int } from "./sql.ts";

export interface SystemRow {
  /** The chunk's last step (the key) and its first. */
  step: number;
  firstStep: number;
  /** Wall-clock start of the chunk, Unix ms. */
  startMs: number;
  /** The chunk's span, ms (monotonic clock: exact to the µs, unlike a difference of Unix ms). */
  wallMs: number;
  /** CPU time the trainer's process spent during the chunk (all its threads), ms. */
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Resident set size of the trainer's process at the chunk's end, bytes. */
  rssBytes: number;
  /** Training samples of the chunk per second of its wall-clock span. */
  samplesPerSec: number;
}

const FLOATS = ["startMs", "wallMs", "cpuUserMs", "cpuSystemMs", "rssBytes", "samplesPerSec"] as const;
const COLUMNS = `"step", "firstStep", ${FLOATS.map((f) => `"${f}"`).join(", ")}`;

function float(v: number, what: string): string {
  if (!Number.isFinite(v)) throw new Error(`system metric ${what} must be a finite number, got ${String(v)}`);
  return String(v);
}

/** Inserts a chunk's sample; a sample already stored for that step is kept (a replayed chunk). */
export function insertSystemSql(runId: number, row: SystemRow): string {
  const values = [
    int(row.step, "step"),
    int(row.firstStep, "firstStep"),
    ...FLOATS.map((f) => float(row[f], f)),
  ];
  return (
    `INSERT INTO "SystemMetric" ("runId", ${COLUMNS}) VALUES (${int(runId, "run id")}, ${values.join(", ")})` +
    ` ON CONFLICT ("runId", "step") DO NOTHING RETURNING "step"`
  );
}

/** The samples of chunks whose last step lies in [from, to], in step order, at most `limit`. */
export function systemRangeSql(runId: number, from: number, to: number, limit: number): string {
  return (
    `SELECT ${COLUMNS} FROM "SystemMetric" WHERE "runId" = ${int(runId, "run id")} AND "step" >= ${int(from)}` +
    ` AND "step" <= ${int(to)} ORDER BY "step" LIMIT ${int(limit)}`
  );
}
