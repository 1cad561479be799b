// The rows and inputs an external run's trainer sends (src/runs/external.ts), checked and normalized
// before anything is stored: every refusal names the step and field at fault and what is accepted.
import {
  type BatchRow,
  type CustomValue,
  type EpochRow,
  type JsonObject,
  METRICS,
  type Metric,
} from "../db/index.ts";
import { CUSTOM_NAME } from "../db/sql.ts";
import { ValidationError } from "../errors.ts";

export interface ExternalLimits {
  /** MAX_LOG_ROWS: rows per logMetrics call. */
  maxLogRows: number;
  /** MAX_CUSTOM_METRICS: distinct custom names per run. */
  maxCustomMetrics: number;
  /** MAX_METRIC_NAME_LENGTH: longest custom name. */
  maxMetricNameLength: number;
  /** EXTERNAL_IDLE_MS: silence after which a RUNNING external run becomes INTERRUPTED. */
  idleMs: number;
}

/** One logged step as the API receives it: only `step` is required. */
export interface LogRow {
  step: number;
  epoch?: number | null;
  batch?: number | null;
  loss?: number | null;
  accuracy?: number | null;
  lr?: number | null;
  gradNorm?: number | null;
  confidence?: number | null;
  trueClassProb?: number | null;
  samples?: number | null;
  /** Wall time the step took, ms. */
  timeMs?: number | null;
  /** Named custom scalars: `{ "perplexity": 12.3, "grad_norm/fc1": 0.4 }`. */
  custom?: unknown;
}

export interface LogEpochInput {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss?: number | null;
  valAccuracy?: number | null;
  batches?: number | null;
  timeMs?: number | null;
}

export interface LogResult {
  /** Rows newly stored by this call. */
  stored: number;
  /** Rows already stored with the same values (a retry), ignored. */
  ignored: number;
  /** The run's highest stored step after this call (null while it has none). */
  lastStep: number | null;
}

export interface CreateExternalInput {
  name: string;
  tags?: string[];
  config?: unknown;
  /** Steps the trainer expects to log, when it knows (progress and compare's x axis). */
  totalSteps?: number | null;
}

export const MAX_STEP = 2 ** 31 - 1;

export function intField(v: unknown, field: string, step: number, max = MAX_STEP): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new ValidationError(
      field,
      `step ${step}: ${field} = ${JSON.stringify(v)}; an integer from 0 to ${max} is required`,
    );
  }
  return v;
}

export function finiteField(v: unknown, field: string, step: number): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ValidationError(
      field,
      `step ${step}: ${field} = ${typeof v === "number" ? String(v) : JSON.stringify(v)}; a finite number is required`,
    );
  }
  return v;
}

const sameNumber = (a: number | null, b: number | null) => (a === null ? b === null : b !== null && a === b);

/** The first field whose stored value differs from the re-sent one, or null when the row is the same. */
export function difference(stored: BatchRow, sent: BatchRow): string | null {
  for (const f of ["epoch", "batch", "samples", "timeMs", ...METRICS] as const) {
    if (!sameNumber(stored[f] === null ? null : Number(stored[f]), sent[f])) return f;
  }
  const a = stored.custom ?? {};
  const b = sent.custom ?? {};
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!sameNumber(a[name] ?? null, b[name] ?? null)) return `custom.${name}`;
  }
  return null;
}

/** Validates and normalizes one call's rows (defaults filled), or throws naming step and field. */
export function normalizeRows(
  rows: readonly LogRow[],
  limits: Pick<ExternalLimits, "maxLogRows" | "maxMetricNameLength">,
): { rows: BatchRow[]; custom: CustomValue[] } {
  if (rows.length > limits.maxLogRows) {
    throw new ValidationError(
      "rows",
      `${rows.length} rows in one call; at most ${limits.maxLogRows} (MAX_LOG_ROWS): send them in several calls`,
    );
  }
  const byStep = new Map<number, BatchRow>();
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const at = `rows[${i}]`;
    if (typeof r.step !== "number" || !Number.isSafeInteger(r.step) || r.step < 0 || r.step > MAX_STEP) {
      throw new ValidationError(
        `${at}.step`,
        `${at}.step = ${JSON.stringify(r.step)}; an integer from 0 to ${MAX_STEP} is required`,
      );
    }
    const step = r.step;
    const row: BatchRow = {
      step,
      epoch: r.epoch == null ? 0 : intField(r.epoch, "epoch", step),
      batch: r.batch == null ? step : intField(r.batch, "batch", step),
      loss: null,
      accuracy: null,
      lr: null,
      gradNorm: null,
      confidence: null,
      trueClassProb: null,
      samples: r.samples == null ? 0 : intField(r.samples, "samples", step),
      timeMs: r.timeMs == null ? 0 : finiteField(r.timeMs, "timeMs", step),
    };
    for (const m of METRICS) {
      const v = r[m as Metric];
      if (v != null) row[m] = finiteField(v, m, step);
    }
    if (r.custom != null) row.custom = customOf(r.custom, step, limits.maxMetricNameLength);
    const seen = byStep.get(step);
    if (seen) {
      const diff = difference(seen, row);
      if (diff) {
        throw new ValidationError(
          `${at}.${diff}`,
          `step ${step} appears twice in this call with different ${diff}; send each step once`,
        );
      }
      continue;
    }
    byStep.set(step, row);
  }
  const sorted = [...byStep.values()].sort((a, b) => a.step - b.step);
  const custom: CustomValue[] = [];
  for (const r of sorted) {
    for (const [name, value] of Object.entries(r.custom ?? {})) custom.push({ step: r.step, name, value });
  }
  return { rows: sorted, custom };
}

function customOf(raw: unknown, step: number, maxNameLength: number): Record<string, number> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ValidationError(
      "custom",
      `step ${step}: custom must be an object of name → number, like {"perplexity": 12.3}`,
    );
  }
  const out: Record<string, number> = {};
  for (const [name, v] of Object.entries(raw)) {
    if (name.length > maxNameLength || !CUSTOM_NAME.test(name)) {
      throw new ValidationError(
        `custom.${name.slice(0, 100)}`,
        `step ${step}: custom metric name ${JSON.stringify(name.slice(0, 100))} is not accepted: ` +
          `1 to ${maxNameLength} characters (MAX_METRIC_NAME_LENGTH) of letters, digits and _ . / -, starting with a letter or _`,
      );
    }
    out[name] = finiteField(v, `custom.${name}`, step);
  }
  return out;
}

/** createRun's input, checked: a name, tags, a JSON-object config and an expected step count. */
export function checkCreateInput(input: CreateExternalInput): {
  name: string;
  tags: string[];
  config: JsonObject;
  total: number;
} {
  const name = input.name.trim();
  if (name.length < 1 || name.length > 200)
    throw new ValidationError("name", `name must be 1 to 200 characters, got ${name.length}`);
  const tags = input.tags ?? [];
  if (tags.length > 50 || tags.some((t) => t.length < 1 || t.length > 100))
    throw new ValidationError("tags", "tags: at most 50, each 1 to 100 characters");
  const config = input.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw new ValidationError("config", `config must be a JSON object, got ${JSON.stringify(config)}`);
  if (JSON.stringify(config).length > 65_536)
    throw new ValidationError("config", "config must serialize to at most 65536 characters");
  const total = input.totalSteps ?? 0;
  if (!Number.isSafeInteger(total) || total < 0 || total > MAX_STEP)
    throw new ValidationError("totalSteps", `totalSteps must be an integer from 0 to ${MAX_STEP}`);
  return { name, tags, config: config as JsonObject, total };
}

/** logEpoch's input, checked (at most 10000 per call) and defaulted. */
export function normalizeEpochs(epochs: readonly LogEpochInput[]): EpochRow[] {
  if (epochs.length > 10_000)
    throw new ValidationError("epochs", `${epochs.length} epochs in one call; at most 10000`);
  return epochs.map((e, i) => {
    const at = `epochs[${i}]`;
    const epoch = intField(e.epoch, `${at}.epoch`, -1);
    const opt = (v: number | null | undefined, f: string) =>
      v == null ? null : finiteField(v, `${at}.${f}`, epoch);
    return {
      epoch,
      trainLoss: finiteField(e.trainLoss, `${at}.trainLoss`, epoch),
      trainAccuracy: finiteField(e.trainAccuracy, `${at}.trainAccuracy`, epoch),
      valLoss: opt(e.valLoss, "valLoss"),
      valAccuracy: opt(e.valAccuracy, "valAccuracy"),
      batches: e.batches == null ? 0 : intField(e.batches, `${at}.batches`, epoch),
      timeMs: e.timeMs == null ? 0 : finiteField(e.timeMs, `${at}.timeMs`, epoch),
    };
  });
}

/**
 * The refusal for the first sent row whose step is stored with other values (null when none), naming
 * the step, the field, both values; `late` when the stored row was written by a concurrent call.
 */
export function conflictError(
  stored: readonly BatchRow[],
  sent: readonly BatchRow[],
  late = false,
): ValidationError | null {
  const byStep = new Map(stored.map((r) => [Number(r.step), r]));
  for (const r of sent) {
    const s = byStep.get(r.step);
    const diff = s ? difference(s, r) : null;
    if (!s || !diff) continue;
    const value = (row: BatchRow) =>
      diff.startsWith("custom.")
        ? (row.custom?.[diff.slice(7)] ?? null)
        : (row[diff as keyof BatchRow] ?? null);
    return new ValidationError(
      `rows.${diff}`,
      `step ${r.step} is already stored with a different ${diff} (stored ${JSON.stringify(value(s))}, sent ${JSON.stringify(value(r))})` +
        (late ? " by a concurrent call; the other steps of this call were stored" : "") +
        "; a step's values cannot change",
    );
  }
  return null;
}
