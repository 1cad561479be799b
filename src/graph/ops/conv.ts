// Convolution (2-D, and 1-D as 2-D of height 1), plus the window arithmetic pools share.
import { attrInt, attrInts, attrString, type Dim, int, ints, type Node, type WindowedGrad } from "../ir.ts";
import type { ExpandCtx, GradCtx, Meta, OpRule, ShapeCtx } from "./types.ts";

export interface Window {
  k: [number, number];
  s: [number, number];
  d: [number, number];
  /** [top, left, bottom, right], with auto_pad resolved against the static input size. */
  pads: [number, number, number, number];
  out: [number, number];
}

/** Resolves kernel/stride/dilation/pads/auto_pad of a 2-D window op on an input of spatial size hw. */
export function window2d(node: Node, hw: [number, number], kernel: [number, number], ceil = false): Window {
  const s = (attrInts(node, "strides") ?? [1, 1]) as [number, number];
  const d = (attrInts(node, "dilations") ?? [1, 1]) as [number, number];
  const autoPad = attrString(node, "auto_pad", "NOTSET");
  const eff = [0, 1].map((i) => (kernel[i] - 1) * d[i] + 1);
  let pads = (attrInts(node, "pads") ?? [0, 0, 0, 0]) as [number, number, number, number];
  let out: [number, number];
  if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    out = [Math.ceil(hw[0] / s[0]), Math.ceil(hw[1] / s[1])];
    const total = [0, 1].map((i) => Math.max((out[i] - 1) * s[i] + eff[i] - hw[i], 0));
    const small = total.map((t) => Math.floor(t / 2));
    pads =
      autoPad === "SAME_UPPER"
        ? [small[0], small[1], total[0] - small[0], total[1] - small[1]]
        : [total[0] - small[0], total[1] - small[1], small[0], small[1]];
  } else {
    if (autoPad === "VALID") pads = [0, 0, 0, 0];
    else if (autoPad !== "NOTSET")
      throw new Error(`${node.op} node "${node.name}": unknown auto_pad ${autoPad}`);
    const round = ceil ? Math.ceil : Math.floor;
    out = [0, 1].map((i) => round((hw[i] + pads[i] + pads[i + 2] - eff[i]) / s[i]) + 1) as [number, number];
    if (ceil) {
      // ONNX/PyTorch: a window that would start entirely in the end padding is dropped.
      out = [0, 1].map((i) => ((out[i] - 1) * s[i] >= hw[i] + pads[i] ? out[i] - 1 : out[i])) as [
        number,
        number,
      ];
    }
  }
  return { k: kernel, s, d, pads, out };
}

export function spatial(ctx: ShapeCtx, shape: Dim[]): [number, number] {
  if (shape.length !== 4) ctx.fail(`only 2-D (NCHW) inputs are supported, got [${shape}]`);
  const [h, w] = [shape[2], shape[3]];
  if (typeof h !== "number" || typeof w !== "number")
    ctx.fail(`spatial dimensions must be static, got [${shape}]`);
  return [h, w];
}

/** ConvTranspose output_padding that makes the transposed window op return exactly hw. */
export function outputPadding(win: Window, hw: [number, number]): number[] {
  return [0, 1].map(
    (i) =>
      hw[i] - ((win.out[i] - 1) * win.s[i] + (win.k[i] - 1) * win.d[i] + 1 - win.pads[i] - win.pads[i + 2]),
  );
}

function conv2dShape(ctx: ShapeCtx): Meta[] {
  const x = ctx.input(0);
  const w = ctx.input(1).shape;
  const hw = spatial(ctx, x.shape);
  const group = attrInt(ctx.node, "group", 1);
  if (w.length !== 4 || typeof w[2] !== "number" || typeof w[3] !== "number")
    ctx.fail(`weight must be [O,C/g,kh,kw], got [${w}]`);
  if (x.shape[1] !== (w[1] as number) * group)
    ctx.fail(
      `input has ${x.shape[1]} channels, weight [${w}] with group ${group} expects ${(w[1] as number) * group}`,
    );
  const win = window2d(ctx.node, hw, [w[2], w[3]]);
  return [{ dtype: x.dtype, shape: [x.shape[0], w[0], win.out[0], win.out[1]] }];
}

// 2-D convolution (1-D runs as 2-D of height 1; dilation, strides, groups, pads, auto_pad)
export const Conv: OpRule = {
  shape: with1d(conv2dShape, [0, 1]),
  expand: expand1d([0, 1]),
  grad: {
    0(ctx) {
      const { b, node, dY } = ctx;
      const [X, W] = node.inputs;
      const { hw, group, win } = convParts(ctx);
      if (group === 1 && b.opset >= 18) return inputGradCol2Im(ctx, hw, win);
      // dX = ConvTranspose(dY, W): the adjoint of the convolution, same window and groups
      return b.op(
        "ConvTranspose",
        [dY, W],
        {
          strides: ints(win.s),
          dilations: ints(win.d),
          pads: ints(win.pads),
          kernel_shape: ints(win.k),
          group: int(group),
          output_padding: ints(outputPadding(win, hw)),
        },
        `${X}_grad`,
      );
    },
    1(ctx) {
      const { b, node, dY } = ctx;
      const [X, W] = node.inputs;
      const { hw, ws, C, O, group, win } = convParts(ctx);
      const KK = win.k[0] * win.k[1];
      // The Gather's index table has KK·Ho·Wo entries, built here as a JS array and stored in the graph:
      // past GATHER_TABLE_LIMIT (a 3×3 conv on ~680×680 images) the per-tap Slices below cost less memory.
      if (group === 1 && KK * win.out[0] * win.out[1] <= GATHER_TABLE_LIMIT)
        return weightGradGather(ctx, hw, win);
      // Grouped (or past the table limit): dW[g, o, c·kk] = Σ_{n,p} dY[g, o, n·p] · cols[g, c·kk, n·p], with an explicit im2col:
      // X → [C,N,H,W] (padded) → one strided Slice per kernel tap → Concat → [C·KK, N·Ho·Wo]
      const xt = b.op("Transpose", [X], { perm: ints([1, 0, 2, 3]) }, `${X}_CNHW`);
      const [pt, pl, pb, pr] = win.pads;
      const xp =
        pt || pl || pb || pr ? b.op("Pad", [xt, b.i64([0, 0, pt, pl, 0, 0, pb, pr])], {}, `${X}_padded`) : xt;
      const taps: string[] = [];
      for (let i = 0; i < win.k[0]; i++) {
        for (let j = 0; j < win.k[1]; j++) {
          const y0 = i * win.d[0];
          const x0 = j * win.d[1];
          taps.push(
            b.op(
              "Slice",
              [
                xp,
                b.i64([y0, x0]),
                b.i64([y0 + win.s[0] * (win.out[0] - 1) + 1, x0 + win.s[1] * (win.out[1] - 1) + 1]),
                b.i64([2, 3]),
                b.i64([win.s[0], win.s[1]]),
              ],
              {},
              `${X}_tap`,
            ),
          );
        }
      }
      // Concat on axis 1 of [C,N,Ho,Wo] pieces lays memory out as [C, KK, N, Ho, Wo].
      const cat = taps.length === 1 ? taps[0] : b.op("Concat", taps, { axis: int(1) }, `${X}_cols`);
      const dyt = b.op("Transpose", [dY], { perm: ints([1, 0, 2, 3]) }, `${dY}_ONHW`);
      const cols = b.op("Reshape", [cat, b.i64([group, (C / group) * KK, -1])]);
      const colsT = b.op("Transpose", [cols], { perm: ints([0, 2, 1]) });
      const dyr = b.op("Reshape", [dyt, b.i64([group, O / group, -1])]);
      const dw = b.op("MatMul", [dyr, colsT], {}, `${W}_grad3d`);
      return b.op("Reshape", [dw, b.i64(ws)], {}, `${W}_grad`);
    },
    // dB[o] = Σ_{n,h,w} dY[n,o,h,w] (in any order: over a pool's window layout when there is one)
    2(ctx) {
      const { b, dY, node } = ctx;
      const w = windowedDY(ctx);
      if (!w) return b.reduceSum(dY, [0, 2, 3], false, `${node.inputs[2]}_grad`);
      return b.reduceSum(w.nop, [0, 2], false, `${node.inputs[2]}_grad`);
    },
  },
};

/**
 * dX of an ungrouped convolution as the adjoint of its im2col (opset 18):
 *   dcols[n, c·kk, p] = Σ_o W[o, c·kk] · dY[n, o, p]      one MatMul, Wᵀ broadcast over the batch
 *   dX = Col2Im(dcols)                                    each column added back onto its window
 * The same sums in the same order as onnxruntime's ConvTranspose (a GEMM per image, then its col2im):
 * training losses are bit-identical. The gain is threading: the MatMul (fused with the transpose) splits
 * across the intra-op threads where the ConvTranspose's GEMMs did not. Kernel time per step (profiled
 * Loop, K = 10, lower quartile per node), 2 threads: the seed CNN's conv2 input gradient 1,915 → 1,155 µs,
 * LeNet-5's 781 → 557 µs; on 1 thread 1,312 → 1,387 and 730 → 764 µs (the Col2Im scatter-add runs on
 * one thread either way). Grouped convolutions keep the ConvTranspose.
 */
function inputGradCol2Im(ctx: GradCtx, hw: [number, number], win: Window): string {
  const { b, node, dY } = ctx;
  const [X, W] = node.inputs;
  const [O, C] = ctx.meta(W).shape as number[];
  const KK = win.k[0] * win.k[1];
  const w2d = b.op("Reshape", [W, b.i64([O, C * KK])]);
  const wT = b.op("Transpose", [w2d], { perm: ints([1, 0]) }, `${W}_T`);
  const dy3d = b.op("Reshape", [dY, b.i64([0, O, -1])], {}, `${dY}_NOP`);
  const dcols = b.op("MatMul", [wT, dy3d], {}, `${X}_grad_cols`);
  return b.op(
    "Col2Im",
    [dcols, b.i64(hw), b.i64(win.k)],
    { dilations: ints(win.d), pads: ints(win.pads), strides: ints(win.s) },
    `${X}_grad`,
  );
}

/** Largest im2col index table (entries, int64) the Gather form may embed: 32 MB. */
const GATHER_TABLE_LIMIT = 1 << 22;

/**
 * dW of an ungrouped convolution with an im2col made by one Gather:
 *   dW[o, c·kk] = Σ_{p,n} dY[o, p·n] · cols[c·kk, p·n],  cols[c, k, p, n] = Xpad[c, at(k, p), n]
 * with X laid out [C, Hp·Wp, N] (batch innermost) and at(k, p) = (y·s + i·d)·Wp + x·s + j·d the flat
 * input position under tap k = (i, j) of output p = (y, x), a constant [kh·kw, Ho·Wo] index table. Each
 * index moves a contiguous block of N floats, and onnxruntime splits a Gather across its intra-op
 * threads, where the strided Slice per tap (rows of Wo floats) and the Concat ran on one thread; dY is
 * laid out [O, Ho·Wo·N] to match. Measured against those Slices (3×3, seed CNN) about 10% less kernel
 * time per step, and against the batch-axis Conv (5×5, LeNet-5) 10–18% less time per step.
 */
function weightGradGather(ctx: GradCtx, hw: [number, number], win: Window): string {
  const { b, node, dY } = ctx;
  const [X, W] = node.inputs;
  const ws = ctx.meta(W).shape as number[];
  const [O, C] = [ws[0], ws[1]];
  const [pt, pl, pb, pr] = win.pads;
  const wp = hw[1] + pl + pr;
  const xt = b.op("Transpose", [X], { perm: ints([1, 2, 3, 0]) }, `${X}_CHWN`);
  const xp =
    pt || pl || pb || pr ? b.op("Pad", [xt, b.i64([0, pt, pl, 0, 0, pb, pr, 0])], {}, `${X}_padded`) : xt;
  // Output positions in dY's order: row-major (y, x), or a pool's window layout (a, b, i, j) with
  // y = i·kh + a and x = j·kw + b, which spares the pool's backward its interleave.
  const w = windowedDY(ctx);
  const order: [number, number][] = [];
  if (w) {
    const [[kh, kw], [ho, wo]] = [w.k, w.out];
    for (let a = 0; a < kh; a++)
      for (let c = 0; c < kw; c++)
        for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) order.push([i * kh + a, j * kw + c]);
  } else for (let y = 0; y < win.out[0]; y++) for (let x = 0; x < win.out[1]; x++) order.push([y, x]);
  const at: number[] = [];
  for (let i = 0; i < win.k[0]; i++)
    for (let j = 0; j < win.k[1]; j++)
      for (const [y, x] of order) at.push((y * win.s[0] + i * win.d[0]) * wp + x * win.s[1] + j * win.d[1]);
  const KK = win.k[0] * win.k[1];
  const flat = b.op("Reshape", [xp, b.i64([C, (hw[0] + pt + pb) * wp, -1])]);
  const cols = b.op(
    "Gather",
    [flat, b.i64(at, [KK, win.out[0] * win.out[1]])],
    { axis: int(1) },
    `${X}_cols`,
  );
  const cols2d = b.op("Reshape", [cols, b.i64([C * KK, -1])]);
  const dyt = w
    ? b.op("Transpose", [w.nop], { perm: ints([1, 2, 0]) }, `${dY}_OPN`)
    : b.op("Transpose", [dY], { perm: ints([1, 2, 3, 0]) }, `${dY}_OHWN`);
  const dy2d = b.op("Reshape", [dyt, b.i64([O, -1])]);
  const dw = b.op("Gemm", [dy2d, cols2d], { transB: int(1) }, `${W}_grad2d`);
  return b.op("Reshape", [dw, b.i64(ws)], {}, `${W}_grad`);
}

/** One reshape per windowed gradient, shared by the weight and bias gradients. */
const nopOf = new WeakMap<WindowedGrad, string>();

/**
 * dY in a tiled pool's window layout as [N, O, kh·kw·Ho·Wo] (see WindowedGrad in ir.ts), when the pool's
 * backward produced it and its windows cover the conv's output exactly; else null.
 */
function windowedDY(ctx: GradCtx): { nop: string; k: [number, number]; out: [number, number] } | null {
  const { b, dY, node } = ctx;
  const w = b.windowed.get(dY);
  const ys = ctx.meta(node.outputs[0]).shape;
  if (!w || ys[2] !== w.k[0] * w.out[0] || ys[3] !== w.k[1] * w.out[1]) return null;
  let nop = nopOf.get(w);
  if (!nop) {
    const positions = w.k[0] * w.k[1] * w.out[0] * w.out[1];
    nop = b.op("Reshape", [w.spread, b.i64([-1, ys[1] as number, positions])], {}, `${dY}_NOP`);
    nopOf.set(w, nop);
  }
  return { nop, k: w.k, out: w.out };
}

function convParts(ctx: GradCtx) {
  const { node } = ctx;
  const xs = ctx.meta(node.inputs[0]).shape;
  const ws = ctx.meta(node.inputs[1]).shape as number[];
  const hw: [number, number] = [xs[2] as number, xs[3] as number];
  const win = window2d(node, hw, [ws[2], ws[3]]);
  return { hw, ws, C: xs[1] as number, O: ws[0], group: attrInt(node, "group", 1), win };
}

// ---------- 1-D windows as 2-D ones of height 1 ----------

/** The node's 1-D window attributes as 2-D ones over [1, L]. */
function lift1d(node: Node): Node {
  const attrs = { ...node.attrs };
  for (const k of ["kernel_shape", "strides", "dilations"]) {
    const v = attrInts(node, k);
    if (v) attrs[k] = ints([1, ...v]);
  }
  const pads = attrInts(node, "pads");
  if (pads) attrs.pads = ints([0, pads[0], 0, pads[1]]);
  return { ...node, attrs };
}

const liftShape = (shape: Dim[]) => [...shape.slice(0, 2), 1, ...shape.slice(2)];

/** A 2-D window op's shape rule extended to 1-D inputs [N, C, L] (inputs in `lifted` gain the height axis). */
export function with1d(shape: (ctx: ShapeCtx) => Meta[], lifted: number[]): (ctx: ShapeCtx) => Meta[] {
  return (ctx) => {
    if (ctx.input(0).shape.length !== 3) return shape(ctx);
    const as2d: ShapeCtx = {
      ...ctx,
      node: lift1d(ctx.node),
      input(i) {
        const m = ctx.input(i);
        return lifted.includes(i) ? { ...m, shape: liftShape(m.shape) } : m;
      },
    };
    return shape(as2d).map((m) => ({
      ...m,
      shape: m.shape.length === 4 ? [...m.shape.slice(0, 2), m.shape[3]] : m.shape,
    }));
  };
}

/** Training and eval run a 1-D window op as the 2-D op on [N, C, 1, L] (whose rules exist), squeezed back. */
export function expand1d(lifted: number[]): (ctx: ExpandCtx) => boolean {
  return (ctx) => {
    const { b, node } = ctx;
    if (ctx.meta(node.inputs[0]).shape.length !== 3) return false;
    if (node.outputs[1]) ctx.fail("a 1-D MaxPool's Indices output is not supported");
    const inputs = node.inputs.map((v, i) => (v && lifted.includes(i) ? b.unsqueeze(v, [2], `${v}_2d`) : v));
    const y = b.fresh(`${node.outputs[0]}_2d`);
    b.raw({ ...lift1d(node), inputs, outputs: [y] });
    b.raw({
      op: "Squeeze",
      name: `${node.name}_1d`,
      domain: "",
      inputs: [y, b.i64([2])],
      outputs: [node.outputs[0]],
      attrs: {},
    });
    return true;
  };
}
