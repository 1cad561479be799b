// GRU and LSTM as torch.onnx.export writes them (one layer per node, forward, reverse or
// bidirectional, layout 0 or 1, default activations). Training and eval expand the recurrence over
// the static sequence length into standard ops that already have gradient rules, so the reverse pass
// is ordinary autodiff (backpropagation through time). The input projection of every step is one
// MatMul over [T, N, I] before the loop; each step adds one Gemm with the recurrent weights.
//
// Why unrolled rather than a Loop with a hand-written reverse pass: the unrolled form needs no second
// Loop body, no stack of per-step activations and no gradient rule of its own (the driver's generic
// backpropagation through time is exact: see the GRU/LSTM rows of the gradient check), and the
// training step already runs inside the K-step Loop, where a nested Loop would add a subgraph call per
// time step. It costs graph size linear in T (≈ 20 nodes per step and direction), so a model whose
// sequence length is not static is refused. The Loop form was not built for comparison; `npm run
// bench graph` measures the unrolled GRU against PyTorch eager.
import { attrInt, attrString, type Builder, type Dim, int, ints } from "../ir.ts";
import type { ExpandCtx, Meta, OpRule, ShapeCtx } from "./types.ts";

interface Cell {
  /** Number of gates stacked in W/R (GRU 3: z, r, h; LSTM 4: i, o, f, c). */
  gates: number;
}

const GRU_CELL: Cell = { gates: 3 };
const LSTM_CELL: Cell = { gates: 4 };

function rnnShape(ctx: ShapeCtx): Meta[] {
  const x = ctx.input(0);
  const H = attrInt(ctx.node, "hidden_size", 0);
  if (H <= 0) ctx.fail("hidden_size must be a positive integer");
  if (x.shape.length !== 3) ctx.fail(`input X must be 3-D, got [${x.shape}]`);
  const D = attrString(ctx.node, "direction", "forward") === "bidirectional" ? 2 : 1;
  const layout = attrInt(ctx.node, "layout", 0);
  const [T, N] = layout ? [x.shape[1], x.shape[0]] : [x.shape[0], x.shape[1]];
  if (typeof T !== "number")
    ctx.fail(
      `input "${ctx.node.inputs[0]}" has a dynamic sequence length (dimension ${layout} is "${T}"); the ${ctx.node.op} is unrolled over the steps, so it accepts a static sequence length only: export with a fixed length on that axis`,
    );
  const y: Dim[] = layout ? [N, T, D, H] : [T, D, N, H];
  const state: Dim[] = layout ? [N, D, H] : [D, N, H];
  const outs: Meta[] = [
    { dtype: x.dtype, shape: y },
    { dtype: x.dtype, shape: state },
  ];
  if (ctx.node.op === "LSTM") outs.push({ dtype: x.dtype, shape: state });
  return outs;
}

/** Refuses what the expansion does not implement, naming the attribute or input and what is accepted. */
function checkSupported(ctx: ExpandCtx, cell: Cell): void {
  const { node } = ctx;
  if (node.attrs.clip) ctx.fail("the clip attribute is not supported (export without cell clipping)");
  if (node.inputs[4])
    ctx.fail("sequence_lens is not supported: every sequence in a batch must have the full length");
  if (cell === LSTM_CELL && node.inputs[7]) ctx.fail("peephole weights (input P) are not supported");
  if (cell === LSTM_CELL && attrInt(node, "input_forget", 0)) ctx.fail("input_forget = 1 is not supported");
  const acts = node.attrs.activations;
  if (acts?.type === "strings") {
    const want = cell === GRU_CELL ? ["Sigmoid", "Tanh"] : ["Sigmoid", "Tanh", "Tanh"];
    const per = want.length;
    for (let i = 0; i < acts.strings.length; i++) {
      if (acts.strings[i].toLowerCase() !== want[i % per].toLowerCase())
        ctx.fail(
          `activations [${acts.strings}] are not supported (accepted: the defaults, ${want.join(", ")})`,
        );
    }
  }
}

function expandRnn(ctx: ExpandCtx, cell: Cell): boolean {
  checkSupported(ctx, cell);
  const { b, node } = ctx;
  const [X0, W, R, B, , initH, initC] = node.inputs;
  const xs = ctx.meta(X0).shape;
  const H = attrInt(node, "hidden_size", 0);
  const layout = attrInt(node, "layout", 0);
  const direction = attrString(node, "direction", "forward");
  const D = direction === "bidirectional" ? 2 : 1;
  const tAxis = layout ? 1 : 0;
  // static: the shape rule refused a symbolic sequence length
  const T = xs[tAxis] as number;
  const G = cell.gates;
  const lbr = attrInt(node, "linear_before_reset", 0) === 1;
  const X = layout ? b.op("Transpose", [X0], { perm: ints([1, 0, 2]) }, `${X0}_tnc`) : X0;
  const name = node.outputs[0] || node.name;
  // zeros [N, H] for a missing initial state
  const zeroState = (): string => {
    const n = b.op("Slice", [b.op("Shape", [X]), b.i64([1]), b.i64([2])]);
    const shape = b.op("Concat", [n, b.i64([H])], { axis: int(0) });
    return b.op("ConstantOfShape", [shape], { value: b.zerosAttr(ctx.meta(X0).dtype) }, `${name}_h0`);
  };
  const pick = (v: string, d: number, hint: string) => b.squeeze(b.op("Gather", [v, b.i64([d])]), [0], hint);
  const stateIn = (v: string | undefined, d: number, hint: string) => {
    if (!v) return zeroState();
    return layout ? b.op("Gather", [v, b.i64(d)], { axis: int(1) }, hint) : pick(v, d, hint);
  };
  const ys: string[] = [];
  const hs: string[] = [];
  const cs: string[] = [];
  for (let d = 0; d < D; d++) {
    const reverse = direction === "reverse" || d === 1;
    const Wd = pick(W, d, `${name}_W${d}`);
    const Rd = pick(R, d, `${name}_R${d}`);
    // every step's input projection at once: [T, N, I]·Wᵀ (+ Wb) → [T, N, G·H], split per step
    let xw = b.op("MatMul", [X, b.op("Transpose", [Wd], { perm: ints([1, 0]) })], {}, `${name}_xw${d}`);
    let Rb: string | undefined;
    if (B) {
      const Bd = pick(B, d, `${name}_B${d}`);
      const [Wb, rb] = b.opN("Split", [Bd, b.i64([G * H, G * H])], { axis: int(0) }, 2, `${name}_b${d}`);
      xw = b.op("Add", [xw, Wb]);
      Rb = rb;
    }
    const steps =
      T === 1
        ? [xw]
        : b.opN("Split", [xw, b.i64(new Array(T).fill(1))], { axis: int(0) }, T, `${name}_x${d}`);
    let h = stateIn(initH, d, `${name}_h0_${d}`);
    let c = cell === LSTM_CELL ? stateIn(initC, d, `${name}_c0_${d}`) : "";
    const outs: string[] = new Array(T);
    for (let k = 0; k < T; k++) {
      const t = reverse ? T - 1 - k : k;
      const xt = b.squeeze(steps[t], [0]);
      const hint = `${name}_d${d}_t${t}`;
      if (cell === GRU_CELL) h = gruStep(b, xt, h, Rd, Rb, H, lbr, hint);
      else [h, c] = lstmStep(b, xt, h, c, Rd, Rb, H, hint);
      outs[t] = h;
    }
    ys.push(
      b.op(
        "Concat",
        outs.map((o) => b.unsqueeze(o, [0])),
        { axis: int(0) },
        `${name}_y${d}`,
      ),
    );
    hs.push(h);
    cs.push(c);
  }
  // Y [T, D, N, H] (layout 1: [N, T, D, H]); Y_h, Y_c [D, N, H] (layout 1: [N, D, H])
  const [Y, Yh, Yc] = node.outputs;
  const stack = (vs: string[], axis: number, out: string) => {
    const parts = vs.map((v) => b.unsqueeze(v, [axis]));
    b.raw({
      op: parts.length === 1 ? "Identity" : "Concat",
      name: `${out}_stack`,
      domain: "",
      inputs: parts,
      outputs: [out],
      attrs: parts.length === 1 ? {} : { axis: int(axis) },
    });
  };
  if (Y) {
    if (layout) {
      const y = b.fresh(`${Y}_tdnh`);
      stack(ys, 1, y);
      b.raw({
        op: "Transpose",
        name: `${Y}_layout`,
        domain: "",
        inputs: [y],
        outputs: [Y],
        attrs: { perm: ints([2, 0, 1, 3]) },
      });
    } else stack(ys, 1, Y);
  }
  if (Yh) stack(hs, layout ? 1 : 0, Yh);
  if (Yc) stack(cs, layout ? 1 : 0, Yc);
  return true;
}

/**
 * One GRU step (gates z, r, h):
 *   z = σ(xz + H·Rzᵀ + bz), r = σ(xr + H·Rrᵀ + br)
 *   linear_before_reset: n = tanh(xh + r ⊙ (H·Rhᵀ + Rbh)), else n = tanh(xh + (r ⊙ H)·Rhᵀ + Rbh)
 *   H′ = (1 − z) ⊙ n + z ⊙ H = n + z ⊙ (H − n)
 */
function gruStep(
  b: Builder,
  xt: string,
  h: string,
  R: string,
  Rb: string | undefined,
  H: number,
  lbr: boolean,
  hint: string,
): string {
  const [xz, xr, xh] = b.opN("Split", [xt, b.i64([H, H, H])], { axis: int(1) }, 3, `${hint}_x`);
  let hz: string;
  let hr: string;
  let n: string;
  if (lbr) {
    const hrAll = b.op("Gemm", Rb ? [h, R, Rb] : [h, R], { transB: int(1) }, `${hint}_hR`);
    const parts = b.opN("Split", [hrAll, b.i64([H, H, H])], { axis: int(1) }, 3, `${hint}_h`);
    [hz, hr] = parts;
    const z = b.op("Sigmoid", [b.op("Add", [xz, hz])], {}, `${hint}_z`);
    const r = b.op("Sigmoid", [b.op("Add", [xr, hr])], {}, `${hint}_r`);
    n = b.op("Tanh", [b.op("Add", [xh, b.op("Mul", [r, parts[2]])])], {}, `${hint}_n`);
    return b.op("Add", [n, b.op("Mul", [z, b.op("Sub", [h, n])])], {}, `${hint}_H`);
  }
  const [Rzr, Rh] = b.opN("Split", [R, b.i64([2 * H, H])], { axis: int(0) }, 2, `${hint}_R`);
  let Rbzr: string | undefined;
  let Rbh: string | undefined;
  if (Rb) [Rbzr, Rbh] = b.opN("Split", [Rb, b.i64([2 * H, H])], { axis: int(0) }, 2, `${hint}_Rb`);
  const hzr = b.op("Gemm", Rbzr ? [h, Rzr, Rbzr] : [h, Rzr], { transB: int(1) }, `${hint}_hR`);
  [hz, hr] = b.opN("Split", [hzr, b.i64([H, H])], { axis: int(1) }, 2, `${hint}_h`);
  const z = b.op("Sigmoid", [b.op("Add", [xz, hz])], {}, `${hint}_z`);
  const r = b.op("Sigmoid", [b.op("Add", [xr, hr])], {}, `${hint}_r`);
  const rh = b.op("Gemm", Rbh ? [b.op("Mul", [r, h]), Rh, Rbh] : [b.op("Mul", [r, h]), Rh], {
    transB: int(1),
  });
  n = b.op("Tanh", [b.op("Add", [xh, rh])], {}, `${hint}_n`);
  return b.op("Add", [n, b.op("Mul", [z, b.op("Sub", [h, n])])], {}, `${hint}_H`);
}

/**
 * One LSTM step (gates i, o, f, c):
 *   [i, o, f, g] = [σ, σ, σ, tanh](x + H·Rᵀ + Rb);  C′ = f ⊙ C + i ⊙ g;  H′ = o ⊙ tanh(C′)
 */
function lstmStep(
  b: Builder,
  xt: string,
  h: string,
  c: string,
  R: string,
  Rb: string | undefined,
  H: number,
  hint: string,
): [string, string] {
  const pre = b.op(
    "Add",
    [xt, b.op("Gemm", Rb ? [h, R, Rb] : [h, R], { transB: int(1) })],
    {},
    `${hint}_gates`,
  );
  const [gi, go, gf, gc] = b.opN("Split", [pre, b.i64([H, H, H, H])], { axis: int(1) }, 4, `${hint}_g`);
  const i = b.op("Sigmoid", [gi]);
  const o = b.op("Sigmoid", [go]);
  const f = b.op("Sigmoid", [gf]);
  const g = b.op("Tanh", [gc]);
  const cNext = b.op("Add", [b.op("Mul", [f, c]), b.op("Mul", [i, g])], {}, `${hint}_C`);
  return [b.op("Mul", [o, b.op("Tanh", [cNext])], {}, `${hint}_H`), cNext];
}

export const GRU: OpRule = {
  shape: rnnShape,
  expand: (ctx) => expandRnn(ctx, GRU_CELL),
};

export const LSTM: OpRule = {
  shape: rnnShape,
  expand: (ctx) => expandRnn(ctx, LSTM_CELL),
};
