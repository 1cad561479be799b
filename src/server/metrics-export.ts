// Bulk export of a run's batch rows: GET /runs/{id}/metrics.ndjson and /runs/{id}/metrics.csv.
// Rows are read in keyset pages and written as they come, waiting for the socket to drain, so a
// 10,000,000-step run streams in constant memory. Needs read scope, like a query.
import type { IncomingMessage, ServerResponse } from "node:http";
import { type BatchRow, type Db, ROW_FIELDS } from "../db/index.ts";
import { intId } from "../errors.ts";

/** The run is named by its number (databaseId) or its global ID (a run's never holds "/"). */
export const METRICS_EXPORT_ROUTE = /^\/runs\/(\d{1,15}|[A-Za-z0-9]{4,40}={0,2})\/metrics\.(ndjson|csv)$/;

/** The run a route names; 0 (no run) for another type's global ID, so the route answers not found. */
export function routeRunId(text: string): number {
  try {
    return intId("run", text);
  } catch {
    return 0;
  }
}

/** The stored columns, in the database's order; then one column per custom metric. */
const COLUMNS = ROW_FIELDS;

const PAGE = 5_000;

/** A CSV field: numbers as JS prints them (round-trip exact), empty for a metric not logged. */
function cell(v: number | null | undefined): string {
  return v === null || v === undefined ? "" : String(v);
}

/** A header cell; custom names are letters, digits and _ . / - (no quoting needed), quoted anyway if not. */
function headerCell(name: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export function csvLine(row: BatchRow, custom: readonly string[]): string {
  const out = COLUMNS.map((c) => cell(row[c]));
  for (const name of custom) out.push(cell(row.custom?.[name]));
  return `${out.join(",")}\n`;
}

export function ndjsonLine(row: BatchRow): string {
  const { custom, ...rest } = row;
  return `${JSON.stringify(custom ? { ...rest, custom } : rest)}\n`;
}

function write(res: ServerResponse, text: string): Promise<void> {
  if (res.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      res.off("drain", ok);
      res.off("close", closed);
      if (err) reject(err);
      else resolve();
    };
    const ok = () => done();
    const closed = () => done(new Error("the client closed the connection"));
    res.once("drain", ok);
    res.once("close", closed);
  });
}

/** Streams the run's rows; the caller has authenticated the request and checked the method. */
export async function streamMetrics(
  db: Db,
  runId: number,
  format: "ndjson" | "csv",
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const run = await db.getRun(runId);
  if (!run) {
    res.writeHead(404, { "content-type": "text/plain" }).end(`unknown run id ${runId}\n`);
    return;
  }
  const custom = format === "csv" ? await db.customMetricNames(runId) : [];
  res.writeHead(200, {
    "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson",
    "content-disposition": `attachment; filename="run-${runId}-metrics.${format}"`,
    "cache-control": "no-store",
  });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  try {
    if (format === "csv") await write(res, `${[...COLUMNS, ...custom.map(headerCell)].join(",")}\n`);
    let after = -1;
    for (;;) {
      const page = await db.batchMetricsPage(runId, after, PAGE);
      if (page.rows.length) {
        let text = "";
        for (const r of page.rows) text += format === "csv" ? csvLine(r, custom) : ndjsonLine(r);
        await write(res, text);
      }
      if (!page.hasNextPage || page.endStep === null) break;
      after = page.endStep;
    }
    res.end();
  } catch (err) {
    // Headers are out: all that is left is to cut the stream short (the client sees a truncated body).
    res.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}
