// Metric lines of an unchanged training script, for `gradstream log`. Pure: a line in, a row (or
// nothing, or a warning) out.
//
// Understood, in this order:
//   - JSON objects: `{"step": 3, "loss": 0.69, "perplexity": 2.0}`; numeric fields only;
//   - `key: number` and `key=number` pairs, which covers the reference formats
//     `Epoch: 1, Batch Loss: 0.6931, Batch Accuracy: 0.5000` and `Batch Loss: 0.6931`.
// A line with no metric (a header such as `Batch Size 10 Training:`, prose, a progress bar) is not a
// row. Keys name the built-in metrics when they mean one (`Batch Loss`, `loss`, `acc`, `lr`…); any other
// key becomes a custom metric named by its words joined with `_` (`Val Loss` → `val_loss`).

export interface ParsedRow {
  /** The line's own step, when it has one (`step`, `iteration`, `iter`, `global_step`). */
  step?: number;
  epoch?: number;
  loss?: number;
  accuracy?: number;
  lr?: number;
  gradNorm?: number;
  samples?: number;
  timeMs?: number;
  custom: Record<string, number>;
}

export interface ParseResult {
  row: ParsedRow | null;
  /** Why part or all of the line was not taken (non-finite values, malformed JSON, bad names). */
  warnings: string[];
}

const BUILTIN: Record<string, keyof Omit<ParsedRow, "custom">> = {
  step: "step",
  global_step: "step",
  iteration: "step",
  iter: "step",
  epoch: "epoch",
  loss: "loss",
  batch_loss: "loss",
  train_loss: "loss",
  training_loss: "loss",
  accuracy: "accuracy",
  acc: "accuracy",
  batch_accuracy: "accuracy",
  batch_acc: "accuracy",
  train_accuracy: "accuracy",
  train_acc: "accuracy",
  training_accuracy: "accuracy",
  lr: "lr",
  learning_rate: "lr",
  grad_norm: "gradNorm",
  gradnorm: "gradNorm",
  gradient_norm: "gradNorm",
  samples: "samples",
  batch_size: "samples",
  time_ms: "timeMs",
  timems: "timeMs",
};
const INTEGER_FIELDS = new Set(["step", "epoch", "samples"]);
const NAME = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
const MAX_NAME = 64;

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)`;
const WORD = "[A-Za-z_][A-Za-z0-9_./-]*";
// A key of up to four words, `:` or `=`, a number, then the end of the value (space, punctuation, end).
const PAIR = new RegExp(
  String.raw`(?:^|[\s,;|(\[{])(${WORD}(?: ${WORD}){0,3})\s*[:=]\s*(${NUMBER})%?(?=$|[\s,;|)\]}])`,
  "gi",
);

/** `Batch Loss` → `batch_loss`; `grad_norm/fc1` stays as it is. */
export function normalizeKey(key: string): string {
  return key.trim().replace(/\s+/g, "_").toLowerCase();
}

function toNumber(text: string): number {
  const t = text.toLowerCase().replace(/^\+/, "");
  if (t === "nan" || t === "-nan") return Number.NaN;
  if (/^-?inf(inity)?$/.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
  return Number(text);
}

/** Adds one key/value to the row, or a warning when it cannot be taken. */
function put(row: ParsedRow, rawKey: string, value: number, warnings: string[], keepCase: boolean): void {
  const norm = normalizeKey(rawKey);
  const builtin = BUILTIN[norm];
  if (!Number.isFinite(value)) {
    warnings.push(`${rawKey} = ${String(value)} is not a finite number: left out`);
    return;
  }
  if (builtin) {
    if (INTEGER_FIELDS.has(builtin) && (!Number.isSafeInteger(value) || value < 0)) {
      warnings.push(`${rawKey} = ${value} is not a non-negative integer: left out`);
      return;
    }
    if (row[builtin] === undefined) row[builtin] = value;
    return;
  }
  // JSON keys keep their case (`grad_norm/fc1`, `valLoss`); words from text are lower-cased and joined.
  const name = keepCase ? rawKey : norm;
  if (!NAME.test(name) || name.length > MAX_NAME) {
    warnings.push(
      `${JSON.stringify(rawKey)} is not a metric name (letters, digits, _ . / -, ≤ ${MAX_NAME}): left out`,
    );
    return;
  }
  if (!(name in row.custom)) row.custom[name] = value;
}

function hasMetric(row: ParsedRow): boolean {
  return (
    row.loss !== undefined ||
    row.accuracy !== undefined ||
    row.lr !== undefined ||
    row.gradNorm !== undefined ||
    Object.keys(row.custom).length > 0
  );
}

function parseJson(line: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { row: null, warnings: ["a line starting with { is not valid JSON: skipped"] };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { row: null, warnings: [] };
  const row: ParsedRow = { custom: {} };
  const warnings: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === "number") put(row, k, v, warnings, true);
    // Python's json.dumps writes NaN/Infinity as bare words, which JSON.parse refuses; as strings:
    else if (typeof v === "string" && /^[-+]?(nan|inf(inity)?)$/i.test(v))
      put(row, k, toNumber(v), warnings, true);
  }
  return { row: hasMetric(row) ? row : null, warnings };
}

/** Parses one output line (without its newline). */
export function parseLine(line: string): ParseResult {
  const text = line.trim();
  if (text.startsWith("{")) {
    // Python writes NaN and Infinity bare (not JSON): quote them so the rest of the object still parses.
    return parseJson(text.replace(/:\s*(-?(?:NaN|Infinity))\s*([,}])/g, ': "$1"$2'));
  }
  const row: ParsedRow = { custom: {} };
  const warnings: string[] = [];
  for (const m of text.matchAll(PAIR)) put(row, m[1], toNumber(m[2]), warnings, false);
  // A line whose only metric was non-finite is no row, but still gets its warning.
  return { row: hasMetric(row) ? row : null, warnings };
}

/**
 * Numbers rows in arrival order unless a line carries its own step; after an explicit step the count
 * goes on from it, so mixed scripts stay increasing.
 */
export class StepCounter {
  #next: number;
  constructor(first = 0) {
    this.#next = first;
  }
  assign(row: ParsedRow): number {
    const step = row.step ?? this.#next;
    this.#next = Math.max(this.#next, step + 1);
    return step;
  }
}
