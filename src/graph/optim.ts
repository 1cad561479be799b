// Optimizers in standard ONNX ops, following PyTorch 1.13's single-tensor update rules op for op
// (where weight decay enters, bias correction, the first momentum step). Hyperparameters are scalar
// graph inputs; lr and the global step come per step, so one graph serves every schedule.
import type { Builder } from "./ir.ts";

export type OptimizerSpec =
  | { kind: "sgd"; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number }
  | { kind: "adam" | "adamw"; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }
  | {
      kind: "rmsprop";
      alpha?: number;
      eps?: number;
      momentum?: number;
      centered?: boolean;
      weightDecay?: number;
    };

export interface OptimizerPlan {
  /** Scalar hyperparameter inputs (graph input name → value). */
  hyperparameters: Record<string, number>;
  /** Per-parameter state suffixes (state tensors are `<param>.<suffix>`, zero-initialized). */
  stateSuffixes: string[];
}

export interface StepScalars {
  lr: string;
  /** int64 scalar, the 0-based global step. */
  step: string;
  hyper: Record<string, string>;
  /** Memo for scalars shared by every parameter's update (bias corrections…). */
  shared: Map<string, string>;
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(`invalid optimizer: ${msg}`);
}

const finite = (v: number) => Number.isFinite(v);

/** Validates the spec (PyTorch's own checks) and lists hyperparameter inputs and state tensors. */
export function planOptimizer(spec: OptimizerSpec): OptimizerPlan {
  const wd = spec.weightDecay ?? (spec.kind === "adamw" ? 0.01 : 0);
  check(finite(wd) && wd >= 0, `weightDecay must be ≥ 0, got ${wd}`);
  const h: Record<string, number> = {};
  if (wd !== 0) h.weight_decay = wd;
  switch (spec.kind) {
    case "sgd": {
      const momentum = spec.momentum ?? 0;
      const dampening = spec.dampening ?? 0;
      check(finite(momentum) && momentum >= 0, `momentum must be ≥ 0, got ${momentum}`);
      check(finite(dampening), `dampening must be a number, got ${dampening}`);
      if (spec.nesterov)
        check(momentum > 0 && dampening === 0, "nesterov needs momentum > 0 and dampening = 0");
      if (momentum === 0) return { hyperparameters: h, stateSuffixes: [] };
      h.momentum = momentum;
      h.dampening = dampening;
      return { hyperparameters: h, stateSuffixes: ["momentum_buffer"] };
    }
    case "adam":
    case "adamw": {
      const beta1 = spec.beta1 ?? 0.9;
      const beta2 = spec.beta2 ?? 0.999;
      const eps = spec.eps ?? 1e-8;
      check(finite(beta1) && beta1 >= 0 && beta1 < 1, `beta1 must be in [0, 1), got ${beta1}`);
      check(finite(beta2) && beta2 >= 0 && beta2 < 1, `beta2 must be in [0, 1), got ${beta2}`);
      check(finite(eps) && eps >= 0, `eps must be ≥ 0, got ${eps}`);
      Object.assign(h, { beta1, beta2, eps });
      return { hyperparameters: h, stateSuffixes: ["exp_avg", "exp_avg_sq"] };
    }
    case "rmsprop": {
      const alpha = spec.alpha ?? 0.99;
      const eps = spec.eps ?? 1e-8;
      const momentum = spec.momentum ?? 0;
      check(finite(alpha) && alpha >= 0, `alpha must be ≥ 0, got ${alpha}`);
      check(finite(eps) && eps >= 0, `eps must be ≥ 0, got ${eps}`);
      check(finite(momentum) && momentum >= 0, `momentum must be ≥ 0, got ${momentum}`);
      Object.assign(h, { alpha, eps });
      const states = ["square_avg"];
      if (momentum > 0) {
        h.momentum = momentum;
        states.push("momentum_buffer");
      }
      if (spec.centered) states.push("grad_avg");
      return { hyperparameters: h, stateSuffixes: states };
    }
    default: {
      const kind: unknown = (spec as { kind: unknown }).kind;
      throw new Error(
        `invalid optimizer: unknown kind ${String(kind)} (accepted: sgd, adam, adamw, rmsprop)`,
      );
    }
  }
}

function sharedScalar(s: StepScalars, key: string, make: () => string): string {
  const hit = s.shared.get(key);
  if (hit) return hit;
  const v = make();
  s.shared.set(key, v);
  return v;
}

/**
 * Emits one parameter's update. `states` are the current values of its state tensors in
 * `plan.stateSuffixes` order; returns the new parameter and new states (same order).
 */
export function emitUpdate(
  b: Builder,
  spec: OptimizerSpec,
  plan: OptimizerPlan,
  param: string,
  grad: string,
  states: string[],
  s: StepScalars,
  hint: string,
): { param: string; states: string[] } {
  const H = s.hyper;
  const one = b.f32(1);
  const mul = (x: string, y: string, n?: string) => b.op("Mul", [x, y], {}, n);
  const add = (x: string, y: string, n?: string) => b.op("Add", [x, y], {}, n);
  const sub = (x: string, y: string, n?: string) => b.op("Sub", [x, y], {}, n);
  const div = (x: string, y: string, n?: string) => b.op("Div", [x, y], {}, n);
  const hasWd = "weight_decay" in plan.hyperparameters;
  // L2-style weight decay (SGD, Adam, RMSprop): g ← g + λ·p
  const l2 = () => (hasWd ? add(grad, mul(param, H.weight_decay), `${hint}_decayed_grad`) : grad);
  switch (spec.kind) {
    case "sgd": {
      let g = l2();
      const out: string[] = [];
      if (states.length) {
        // buf ← g on the first step (PyTorch clones the gradient), else μ·buf + (1 − τ)·g.
        // With first = [step == 0]: buf ← buf·(μ·(1 − first)) + g·(first + (1 − first)(1 − τ))
        const first = sharedScalar(s, "first", () =>
          b.cast(b.op("Equal", [s.step, b.i64(0)]), "float32", "is_first_step"),
        );
        const notFirst = sharedScalar(s, "not_first", () => sub(one, first, "not_first_step"));
        const cBuf = sharedScalar(s, "c_buf", () => mul(H.momentum, notFirst, "momentum_coef"));
        const cGrad = sharedScalar(s, "c_grad", () =>
          add(first, mul(notFirst, sub(one, H.dampening)), "grad_coef"),
        );
        const buf = add(mul(states[0], cBuf), mul(g, cGrad), `${hint}_momentum_buffer`);
        out.push(buf);
        // Nesterov: g ← g + μ·buf, else g ← buf
        g = spec.nesterov ? add(g, mul(buf, H.momentum)) : buf;
      }
      // p ← p − lr·g
      return { param: sub(param, mul(g, s.lr), `${hint}_updated`), states: out };
    }
    case "adam":
    case "adamw": {
      let p = param;
      let g = grad;
      if (spec.kind === "adamw" && hasWd) {
        // decoupled decay: p ← p·(1 − lr·λ)
        const keep = sharedScalar(s, "decay", () => sub(one, mul(s.lr, H.weight_decay), "decay_factor"));
        p = mul(param, keep, `${hint}_decayed`);
      } else g = l2();
      // m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²
      const c1 = sharedScalar(s, "1-b1", () => sub(one, H.beta1, "one_minus_beta1"));
      const c2 = sharedScalar(s, "1-b2", () => sub(one, H.beta2, "one_minus_beta2"));
      const m = add(mul(states[0], H.beta1), mul(g, c1), `${hint}_exp_avg`);
      const v = add(mul(states[1], H.beta2), mul(mul(g, g), c2), `${hint}_exp_avg_sq`);
      // t = step + 1;  step_size = lr / (1 − β₁ᵗ);  denom = √v / √(1 − β₂ᵗ) + ε;  p ← p − step_size·m/denom
      const t = sharedScalar(s, "t", () => b.cast(b.op("Add", [s.step, b.i64(1)]), "float32", "t"));
      const stepSize = sharedScalar(s, "step_size", () =>
        div(s.lr, sub(one, b.op("Pow", [H.beta1, t])), "step_size"),
      );
      const bc2Sqrt = sharedScalar(s, "bc2_sqrt", () =>
        b.op("Sqrt", [sub(one, b.op("Pow", [H.beta2, t]))], {}, "bias_correction2_sqrt"),
      );
      const denom = add(div(b.op("Sqrt", [v]), bc2Sqrt), H.eps, `${hint}_denom`);
      const delta = mul(div(m, denom), stepSize);
      return { param: sub(p, delta, `${hint}_updated`), states: [m, v] };
    }
    case "rmsprop": {
      const g = l2();
      const c = sharedScalar(s, "1-alpha", () => sub(one, H.alpha, "one_minus_alpha"));
      // sq ← α·sq + (1 − α)·g²
      const sq = add(mul(states[0], H.alpha), mul(mul(g, g), c), `${hint}_square_avg`);
      const names = plan.stateSuffixes;
      const out: string[] = [sq];
      let avg: string;
      const gaIndex = names.indexOf("grad_avg");
      if (gaIndex >= 0) {
        // centered: ga ← α·ga + (1 − α)·g;  avg = √(sq − ga²) + ε
        const ga = add(mul(states[gaIndex], H.alpha), mul(g, c), `${hint}_grad_avg`);
        avg = add(b.op("Sqrt", [sub(sq, mul(ga, ga))]), H.eps, `${hint}_avg`);
        out[gaIndex] = ga;
      } else avg = add(b.op("Sqrt", [sq]), H.eps, `${hint}_avg`);
      const mbIndex = names.indexOf("momentum_buffer");
      if (mbIndex >= 0) {
        // buf ← μ·buf + g/avg;  p ← p − lr·buf
        const buf = add(mul(states[mbIndex], H.momentum), div(g, avg), `${hint}_momentum_buffer`);
        out[mbIndex] = buf;
        return { param: sub(param, mul(buf, s.lr), `${hint}_updated`), states: out };
      }
      // p ← p − lr·g/avg
      return { param: sub(param, mul(div(g, avg), s.lr), `${hint}_updated`), states: out };
    }
  }
}
