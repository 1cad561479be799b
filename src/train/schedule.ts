// Learning-rate schedules, evaluated per global (0-based) step: pure functions, so a resumed run
// computes the same rates, and the runner can feed one rate per step of a Loop chunk.
//
// Formulas (t = step after warmup, base = the optimizer's lr), as PyTorch's schedulers in closed form
// with one scheduler.step() per batch:
//   constant:  lr(t) = base
//   step:      lr(t) = base · gamma^⌊t / stepSize⌋                                    (StepLR)
//   cosine:    lr(t) = etaMin + (base − etaMin) · (1 + cos(π · min(t, tMax) / tMax)) / 2 (CosineAnnealingLR)
//              tMax defaults to the steps left after warmup; after tMax the rate stays at etaMin
//              (PyTorch's recursive form would climb back up, which no one wants from "cosine decay").
//   warmup:    for step < W: lr = base · (s + (1 − s) · step / W)                     (LinearLR, end 1)
//              then the main schedule runs with t = step − W                         (SequentialLR)

export const SCHEDULE_KINDS = ["constant", "step", "cosine"] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export interface Warmup {
  steps: number;
  /** Multiplier of the base rate at step 0, in [0, 1]. */
  startFactor: number;
}

export type ScheduleSpec =
  | { kind: "constant"; warmup?: Warmup }
  | { kind: "step"; stepSize: number; gamma: number; warmup?: Warmup }
  | { kind: "cosine"; tMax?: number; etaMin: number; warmup?: Warmup };

/** A bad schedule value; `field` is its dotted path ("schedule.gamma"). */
export class ScheduleError extends Error {
  override name = "ScheduleError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function show(v: unknown): string {
  return typeof v === "string"
    ? JSON.stringify(v)
    : typeof v === "object" && v !== null
      ? JSON.stringify(v)
      : String(v);
}

function bad(field: string, value: unknown, accepted: string): never {
  throw new ScheduleError(field, `${field} must be ${accepted}, got ${show(value)}`);
}

function finite(
  o: Record<string, unknown>,
  field: string,
  path: string,
  min: number,
  max: number,
  dflt?: number,
): number {
  const v = o[field] ?? dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    bad(`${path}.${field}`, o[field], `a finite number between ${min} and ${max}`);
  }
  return v;
}

function integer(
  o: Record<string, unknown>,
  field: string,
  path: string,
  min: number,
  max: number,
  dflt?: number,
): number {
  const v = o[field] ?? dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    bad(`${path}.${field}`, o[field], `an integer between ${min} and ${max}`);
  }
  return v;
}

const MAX_STEPS = 1_000_000_000;

/** Validates a schedule (undefined → constant), naming the field and the accepted range on error. */
export function validateSchedule(input: unknown, path = "schedule"): ScheduleSpec {
  if (input === undefined || input === null) return { kind: "constant" };
  if (typeof input === "string") input = { kind: input };
  if (typeof input !== "object" || Array.isArray(input)) bad(path, input, 'an object like {"kind":"cosine"}');
  const o = input as Record<string, unknown>;
  const kind = o.kind;
  if (typeof kind !== "string" || !(SCHEDULE_KINDS as readonly string[]).includes(kind)) {
    bad(`${path}.kind`, kind, `one of ${SCHEDULE_KINDS.join(", ")}`);
  }
  const allowed: Record<ScheduleKind, string[]> = {
    constant: [],
    step: ["stepSize", "gamma"],
    cosine: ["tMax", "etaMin"],
  };
  const fields = ["kind", "warmup", ...allowed[kind as ScheduleKind]];
  for (const key of Object.keys(o)) {
    if (!fields.includes(key) && o[key] !== undefined) {
      throw new ScheduleError(
        `${path}.${key}`,
        `${path}: unknown field "${key}" for kind ${kind}; accepted: ${fields.join(", ")}`,
      );
    }
  }
  let warmup: Warmup | undefined;
  if (o.warmup !== undefined && o.warmup !== null) {
    const w = typeof o.warmup === "number" ? { steps: o.warmup } : o.warmup;
    if (typeof w !== "object" || w === null || Array.isArray(w)) {
      bad(`${path}.warmup`, o.warmup, 'a number of steps or {"steps": N, "startFactor": f}');
    }
    const wo = w as Record<string, unknown>;
    warmup = {
      steps: integer(wo, "steps", `${path}.warmup`, 0, MAX_STEPS),
      startFactor: finite(wo, "startFactor", `${path}.warmup`, 0, 1, 0),
    };
    if (warmup.steps === 0) warmup = undefined;
  }
  const w = warmup ? { warmup } : {};
  switch (kind as ScheduleKind) {
    case "constant":
      return { kind: "constant", ...w };
    case "step":
      return {
        kind: "step",
        stepSize: integer(o, "stepSize", path, 1, MAX_STEPS),
        gamma: finite(o, "gamma", path, 0, 1, 0.1),
        ...w,
      };
    case "cosine": {
      const spec: ScheduleSpec = { kind: "cosine", etaMin: finite(o, "etaMin", path, 0, 1e6, 0), ...w };
      if (o.tMax !== undefined) spec.tMax = integer(o, "tMax", path, 1, MAX_STEPS);
      return spec;
    }
  }
}

/** The learning rate at a 0-based global step of a run of `totalSteps` steps. */
export function lrAt(spec: ScheduleSpec, baseLr: number, step: number, totalSteps: number): number {
  const w = spec.warmup?.steps ?? 0;
  if (step < w) {
    const s = spec.warmup?.startFactor ?? 0;
    return baseLr * (s + ((1 - s) * step) / w);
  }
  const t = step - w;
  switch (spec.kind) {
    case "constant":
      return baseLr;
    case "step":
      return baseLr * spec.gamma ** Math.floor(t / spec.stepSize);
    case "cosine": {
      const tMax = spec.tMax ?? totalSteps - w;
      if (tMax <= 0) return baseLr;
      return (
        spec.etaMin + ((baseLr - spec.etaMin) * (1 + Math.cos((Math.PI * Math.min(t, tMax)) / tMax))) / 2
      );
    }
  }
}

/** Rates for `count` consecutive steps from `firstStep`, as a Loop's per-step input. */
export function lrsFor(
  spec: ScheduleSpec,
  baseLr: number,
  totalSteps: number,
  firstStep: number,
  count: number,
): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = lrAt(spec, baseLr, firstStep + i, totalSteps);
  return out;
}
