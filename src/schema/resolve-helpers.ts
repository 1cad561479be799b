// Shared resolver plumbing: loading a run or failing with NotFoundError, reading every row of a range,
// and turning the run manager's and validators' plain errors into typed ones.
import type { BatchRow, Run } from "../db/index.ts";
import { NotFoundError as RunNotFound, RunStateError } from "../runs/manager.ts";
import type { Context } from "../server/context.ts";
import { RunConfigError } from "../train/config.ts";
import { UPLOAD_NAME } from "../train/data/files.ts";
import { DatasetSpecError } from "../train/data/spec.ts";
import { ProviderUnavailableError } from "../train/providers.ts";
import { intId, NotFoundError, ValidationError } from "./errors.ts";

/** Refuses a bad upload name or a file over MAX_UPLOAD_BYTES, naming the field and what is accepted. */
export function checkUpload(file: { size: number }, name: string, maxBytes: number): void {
  if (!UPLOAD_NAME.test(name)) {
    throw new ValidationError(
      "name",
      `name must be 1–100 characters of letters, digits, "_", "." or "-", starting with a letter or digit; got ${JSON.stringify(name.slice(0, 120))}`,
    );
  }
  if (file.size > maxBytes) {
    throw new ValidationError(
      "file",
      `file is ${file.size} bytes; the upload limit is ${maxBytes} bytes (MAX_UPLOAD_BYTES)`,
    );
  }
}

export async function loadRun(ctx: Context, id: string | number): Promise<Run> {
  const run = await ctx.db.getRun(intId("run", id));
  if (!run) throw new NotFoundError("run", String(id));
  return run;
}

/** Every batch row with step in [from, to], in step order; refuses ranges above `limit` rows. */
export async function readRows(
  ctx: Context,
  runId: number,
  from: number,
  to: number,
  limit: number,
): Promise<BatchRow[]> {
  const rows: BatchRow[] = [];
  let after = from - 1;
  for (;;) {
    const page = await ctx.db.batchMetricsPage(runId, after, 10_000);
    for (const r of page.rows) {
      if (r.step > to) return rows;
      rows.push(r);
    }
    if (rows.length > limit) {
      throw new ValidationError(
        "fromStep",
        `the range holds more than ${limit} batches; narrow it with fromStep/toStep (at most ${limit} batches)`,
      );
    }
    if (!page.hasNextPage || page.endStep === null) return rows;
    after = page.endStep;
  }
}

/** The first field name a RunConfigError / DatasetSpecError message names ("optimizer.lr must be …"). */
export function fieldOf(message: string, fallback: string): string {
  const unknown = /unknown field "([^"]+)"/.exec(message);
  if (unknown) {
    const scope = /^([A-Za-z.]+?)(?: \([a-z]+\))?:/.exec(message)?.[1];
    return scope && scope !== "run configuration" ? `${scope}.${unknown[1]}` : unknown[1];
  }
  const m = /^([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)[ :]/.exec(message);
  return m ? m[1] : fallback;
}

/** Runs a RunManager call, mapping its errors (unknown ids, wrong state, bad config) onto typed ones. */
export async function managed<T>(runId: string | number, field: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof ValidationError) throw err;
    if (err instanceof RunConfigError || err instanceof DatasetSpecError) {
      throw new ValidationError(fieldOf(err.message, field), err.message);
    }
    if (err instanceof RunNotFound) {
      if (/^unknown run id/.test(err.message)) throw new NotFoundError("run", String(runId));
      throw new ValidationError(field, err.message);
    }
    if (err instanceof RunStateError) throw new ValidationError(field, err.message);
    if (err instanceof ProviderUnavailableError) throw new ValidationError("provider", err.message);
    throw err;
  }
}
