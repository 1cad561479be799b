// Pointwise activations and unary math: each output element depends on the same input element only,
// so every gradient is dY times the local derivative (written above each rule).
import { attrFloat, attrString } from "../ir.ts";
import type { GradCtx, OpRule } from "./types.ts";
import { sameAsInput } from "./types.ts";

/** A unary op's rule: `grad` gets X, Y and dY and names its result `${X}_grad`. */
function unary(grad: (ctx: GradCtx, X: string, Y: string, hint: string) => string): OpRule {
  return {
    shape: sameAsInput,
    grad: { 0: (ctx) => grad(ctx, ctx.node.inputs[0], ctx.node.outputs[0], `${ctx.node.inputs[0]}_grad`) },
  };
}

// dX = dY where X > 0, else 0 (the subgradient at 0 is 0, as in PyTorch)
export const Relu = unary((ctx, X, Y, hint) => {
  const { b } = ctx;
  const zero = b.fconst(ctx.dtype, 0);
  const pos = b.op("Greater", [Y, zero], {}, `${X}_pos`);
  return b.op("Where", [pos, ctx.dY, zero], {}, hint);
});

// dX = dY where X > 0, else α·dY
export const LeakyRelu = unary((ctx, X, _Y, hint) => {
  const { b } = ctx;
  const alpha = attrFloat(ctx.node, "alpha", 0.01);
  const pos = b.op("Greater", [X, b.fconst(ctx.dtype, 0)], {}, `${X}_pos`);
  const scaled = b.op("Mul", [ctx.dY, b.fconst(ctx.dtype, alpha)]);
  return b.op("Where", [pos, ctx.dY, scaled], {}, hint);
});

// dX = dY·Y·(1 − Y)
export const Sigmoid = unary((ctx, _X, Y, hint) => {
  const { b } = ctx;
  const oneMinus = b.op("Sub", [b.fconst(ctx.dtype, 1), Y]);
  return b.op("Mul", [b.op("Mul", [ctx.dY, Y]), oneMinus], {}, hint);
});

// dX = dY·(1 − Y²)
export const Tanh = unary((ctx, _X, Y, hint) => {
  const { b } = ctx;
  const oneMinus = b.op("Sub", [b.fconst(ctx.dtype, 1), b.op("Mul", [Y, Y])]);
  return b.op("Mul", [ctx.dY, oneMinus], {}, hint);
});

export const Identity: OpRule = {
  shape(ctx) {
    return [{ ...ctx.input(0) }];
  },
  grad: { 0: (ctx) => ctx.dY },
};

// dX = −dY
export const Neg = unary((ctx, _X, _Y, hint) => ctx.b.op("Neg", [ctx.dY], {}, hint));

// dX = dY·Y
export const Exp = unary((ctx, _X, Y, hint) => ctx.b.op("Mul", [ctx.dY, Y], {}, hint));

// dX = dY/X
export const Log = unary((ctx, X, _Y, hint) => ctx.b.op("Div", [ctx.dY, X], {}, hint));

// dX = dY/(2Y)
export const Sqrt = unary((ctx, _X, Y, hint) => ctx.b.op("Div", [ctx.dY, ctx.b.op("Add", [Y, Y])], {}, hint));

// Y = 1/X: dX = −dY·Y²
export const Reciprocal = unary((ctx, _X, Y, hint) =>
  ctx.b.op("Neg", [ctx.b.op("Mul", [ctx.dY, ctx.b.op("Mul", [Y, Y])])], {}, hint),
);

// dX = dY·sign(X)
export const Abs = unary((ctx, X, _Y, hint) => ctx.b.op("Mul", [ctx.dY, ctx.b.op("Sign", [X])], {}, hint));

// erf′(x) = 2/√π · e^(−x²)
function erfPrime(ctx: GradCtx, X: string): string {
  const { b } = ctx;
  const e = b.op("Exp", [b.op("Neg", [b.op("Mul", [X, X])])]);
  return b.op("Mul", [e, b.fconst(ctx.dtype, 2 / Math.sqrt(Math.PI))]);
}

// dX = dY · 2/√π · e^(−X²)
export const Erf = unary((ctx, X, _Y, hint) => ctx.b.op("Mul", [ctx.dY, erfPrime(ctx, X)], {}, hint));

// Gelu (opset 20). approximate="none": Y = x·Φ(x), dY/dx = Φ(x) + x·φ(x) with φ(x) = e^(−x²/2)/√(2π).
// approximate="tanh": Y = ½x(1 + t), t = tanh(u), u = √(2/π)(x + 0.044715x³):
//   dY/dx = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)
export const Gelu = unary((ctx, X, _Y, hint) => {
  const { b } = ctx;
  const c = (v: number) => b.fconst(ctx.dtype, v);
  const x2 = b.op("Mul", [X, X]);
  let local: string;
  if (attrString(ctx.node, "approximate", "none") === "tanh") {
    const k = Math.sqrt(2 / Math.PI);
    const u = b.op("Mul", [b.op("Add", [X, b.op("Mul", [b.op("Mul", [x2, X]), c(0.044715)])]), c(k)]);
    const t = b.op("Tanh", [u]);
    const du = b.op("Mul", [b.op("Add", [c(1), b.op("Mul", [x2, c(3 * 0.044715)])]), c(k)]);
    const sech2 = b.op("Sub", [c(1), b.op("Mul", [t, t])]);
    const first = b.op("Mul", [b.op("Add", [c(1), t]), c(0.5)]);
    const second = b.op("Mul", [b.op("Mul", [b.op("Mul", [X, c(0.5)]), sech2]), du]);
    local = b.op("Add", [first, second]);
  } else {
    const cdf = b.op("Mul", [b.op("Add", [c(1), b.op("Erf", [b.op("Mul", [X, c(Math.SQRT1_2)])])]), c(0.5)]);
    const pdf = b.op("Mul", [b.op("Exp", [b.op("Mul", [x2, c(-0.5)])]), c(1 / Math.sqrt(2 * Math.PI))]);
    local = b.op("Add", [cdf, b.op("Mul", [X, pdf])]);
  }
  return b.op("Mul", [ctx.dY, local], {}, hint);
});

// Y = max(0, min(1, αX + β)): dX = α·dY where 0 < αX + β < 1, else 0
export const HardSigmoid = unary((ctx, X, _Y, hint) => {
  const { b } = ctx;
  const alpha = attrFloat(ctx.node, "alpha", 0.2);
  const beta = attrFloat(ctx.node, "beta", 0.5);
  const z = b.op("Add", [b.op("Mul", [X, b.fconst(ctx.dtype, alpha)]), b.fconst(ctx.dtype, beta)]);
  const inside = b.op("And", [
    b.op("Greater", [z, b.fconst(ctx.dtype, 0)]),
    b.op("Less", [z, b.fconst(ctx.dtype, 1)]),
  ]);
  const scaled = b.op("Mul", [ctx.dY, b.fconst(ctx.dtype, alpha)]);
  return b.op("Where", [inside, scaled, b.fconst(ctx.dtype, 0)], {}, hint);
});

// Y = X·clip(X/6 + ½, 0, 1): dX = 0 for X < −3, dY·(X/3 + ½) for −3 ≤ X ≤ 3, dY above (PyTorch's choice)
export const HardSwish = unary((ctx, X, _Y, hint) => {
  const { b } = ctx;
  const c = (v: number) => b.fconst(ctx.dtype, v);
  const mid = b.op("Add", [b.op("Mul", [X, c(1 / 3)]), c(0.5)]);
  const local = b.op("Where", [
    b.op("Less", [X, c(-3)]),
    c(0),
    b.op("Where", [b.op("LessOrEqual", [X, c(3)]), mid, c(1)]),
  ]);
  return b.op("Mul", [ctx.dY, local], {}, hint);
});

// Y = clip(X, min, max) (ReLU6 is Clip(0, 6)): dX = dY where min < X < max, else 0 (PyTorch's hardtanh)
export const Clip: OpRule = {
  shape: sameAsInput,
  grad: {
    0(ctx) {
      const { b, node } = ctx;
      const [X, lo, hi] = node.inputs;
      let inside: string | null = null;
      if (lo) inside = b.op("Greater", [X, lo]);
      if (hi) {
        const below = b.op("Less", [X, hi]);
        inside = inside ? b.op("And", [inside, below]) : below;
      }
      if (!inside) return ctx.dY;
      return b.op("Where", [inside, ctx.dY, b.fconst(ctx.dtype, 0)], {}, `${X}_grad`);
    },
  },
};

// Y = ln(1 + eˣ): dX = dY·σ(X)
export const Softplus = unary((ctx, X, _Y, hint) =>
  ctx.b.op("Mul", [ctx.dY, ctx.b.op("Sigmoid", [X])], {}, hint),
);

// Y = X for X > 0, α(eˣ − 1) otherwise: dX = dY for X > 0, dY·(Y + α) otherwise
export const Elu = unary((ctx, X, Y, hint) => {
  const { b } = ctx;
  const alpha = attrFloat(ctx.node, "alpha", 1);
  const neg = b.op("Mul", [ctx.dY, b.op("Add", [Y, b.fconst(ctx.dtype, alpha)])]);
  return b.op("Where", [b.op("Greater", [X, b.fconst(ctx.dtype, 0)]), ctx.dY, neg], {}, hint);
});
