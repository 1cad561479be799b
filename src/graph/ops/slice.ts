// Ops that select or repeat parts of a tensor: Slice, Split, Expand, Trilu. Their gradients put dY
// back where the selected elements came from (zeros elsewhere) or sum the repeats.
import { attrInt, attrInts, type Builder, type Dim, int, ints } from "../ir.ts";
import { zerosOf } from "./generate.ts";
import { broadcastShapes, type GradCtx, type Meta, normAxis, type OpRule, type ShapeCtx } from "./types.ts";

interface AxisSlice {
  axis: number;
  /** First selected position and the (positive) distance between selected positions. */
  first: number;
  stride: number;
  count: number;
  /** The input's size along the axis. */
  size: number;
  /** Whether the selection runs backwards (negative step): dY must be reversed first. */
  reversed: boolean;
}

function constInts(m: Meta | undefined, what: string, fail: (msg: string) => never): number[] | undefined {
  if (!m) return undefined;
  if (!m.value || m.value.some((v) => typeof v !== "number")) fail(`${what} must be a constant`);
  return m.value as number[];
}

/** Resolves Slice's starts/ends/axes/steps (all constant) against the input shape, as ONNX clamps them. */
function resolveSlice(
  shape: Dim[],
  get: (i: number) => Meta | undefined,
  fail: (msg: string) => never,
): { out: Dim[]; axes: AxisSlice[] } {
  const rank = shape.length;
  const starts = constInts(get(1), "starts", fail) ?? [];
  const ends = constInts(get(2), "ends", fail) ?? [];
  const axes = (constInts(get(3), "axes", fail) ?? starts.map((_, i) => i)).map((a) => normAxis(a, rank));
  const steps = constInts(get(4), "steps", fail) ?? starts.map(() => 1);
  const out = [...shape];
  const slices: AxisSlice[] = [];
  axes.forEach((axis, i) => {
    const d = shape[axis];
    const step = steps[i];
    if (step === 0) fail("a Slice step cannot be 0");
    if (typeof d !== "number") {
      // the whole of a symbolic axis (e.g. 0:INT_MAX over the batch) is fine; anything else is not
      if (starts[i] === 0 && ends[i] >= 2 ** 31 - 1 && step === 1) return;
      fail(`cannot slice the symbolic axis ${axis} of [${shape}] (only all of it)`);
    }
    let s = starts[i] < 0 ? starts[i] + d : starts[i];
    let e = ends[i] < 0 ? ends[i] + d : ends[i];
    let count: number;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
      count = Math.max(0, Math.ceil((e - s) / step));
    } else {
      s = Math.min(Math.max(s, 0), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
      count = Math.max(0, Math.ceil((s - e) / -step));
    }
    out[axis] = count;
    const stride = Math.abs(step);
    slices.push({
      axis,
      first: step > 0 ? s : s - (count - 1) * stride,
      stride,
      count,
      size: d,
      reversed: step < 0,
    });
  });
  return { out, axes: slices };
}

export const Slice: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const { out, axes } = resolveSlice(x.shape, (i) => (ctx.has(i) ? ctx.input(i) : undefined), ctx.fail);
    let value: Dim[] | undefined;
    if (x.value && x.shape.length === 1) {
      const a = axes[0];
      value = a
        ? Array.from(
            { length: a.count },
            (_, k) =>
              (x.value as Dim[])[
                a.reversed ? a.first + (a.count - 1 - k) * a.stride : a.first + k * a.stride
              ],
          )
        : x.value;
    }
    return [{ dtype: x.dtype, shape: out, value }];
  },
  // dX = zeros with dY placed at the selected positions, one axis at a time:
  //   step 1: Pad;  step s > 1: interleave s − 1 zeros after each element, then Pad;
  //   negative steps: reverse dY along the axis first
  grad: {
    0(ctx) {
      const { b, node } = ctx;
      const X = node.inputs[0];
      const shape = ctx.meta(X).shape;
      const { axes } = resolveSlice(
        shape,
        (i) => (node.inputs[i] ? ctx.meta(node.inputs[i]) : undefined),
        ctx.fail,
      );
      let g = ctx.dY;
      for (const a of axes) g = placeAlong(b, g, shape.length, a);
      return g;
    },
  },
};

function placeAlong(b: Builder, g: string, rank: number, a: AxisSlice): string {
  if (a.reversed) g = b.op("Slice", [g, b.i64([-1]), b.i64([-(2 ** 62)]), b.i64([a.axis]), b.i64([-1])]);
  let len = a.count;
  if (a.stride > 1) {
    // move the axis last, [.., n] → [.., n, 1] → pad to [.., n, s] → [.., n·s], and back
    const perm = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== a.axis);
    perm.push(a.axis);
    const inv = perm.map((_, i) => perm.indexOf(i));
    const last = b.op("Transpose", [g], { perm: ints(perm) });
    const col = b.unsqueeze(last, [rank]);
    const padded = b.op("Pad", [
      col,
      b.i64([...new Array(rank + 1).fill(0), ...new Array(rank).fill(0), a.stride - 1]),
    ]);
    const merged = b.op("Reshape", [padded, b.i64([...new Array(rank - 1).fill(0), a.count * a.stride])]);
    g = b.op("Transpose", [merged], { perm: ints(inv) });
    len = a.count * a.stride;
  }
  const room = a.size - a.first;
  if (len > room) {
    g = b.op("Slice", [g, b.i64([0]), b.i64([room]), b.i64([a.axis])]);
    len = room;
  }
  const pads = new Array(2 * rank).fill(0);
  pads[a.axis] = a.first;
  pads[rank + a.axis] = a.size - a.first - len;
  return pads.some((p) => p !== 0) ? b.op("Pad", [g, b.i64(pads)]) : g;
}

/** Split's part sizes along the axis (from the `split` input/attribute, or equal parts). */
function splitSizes(
  node: ShapeCtx["node"],
  d: Dim,
  n: number,
  split: Dim[] | undefined,
  fail: (m: string) => never,
) {
  const given = split ?? attrInts(node, "split");
  if (given) {
    if (given.some((v) => typeof v !== "number")) fail("split sizes must be constant");
    return given as number[];
  }
  if (typeof d !== "number") fail("cannot split a symbolic axis into equal parts");
  const part = Math.ceil(d / n);
  return Array.from({ length: n }, (_, i) => Math.max(0, Math.min(part, d - i * part)));
}

export const Split: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const axis = normAxis(attrInt(ctx.node, "axis", 0), x.shape.length);
    const n = attrInt(ctx.node, "num_outputs", ctx.node.outputs.length);
    const sizes = splitSizes(
      ctx.node,
      x.shape[axis],
      n,
      ctx.has(1) ? ctx.input(1).value : undefined,
      ctx.fail,
    );
    return sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? s : d)) }));
  },
  // dX = Concat(dY₀, dY₁, …) along the axis, zeros for parts nothing downstream used
  grad: {
    0(ctx) {
      const { b, node } = ctx;
      const X = node.inputs[0];
      const axis = normAxis(attrInt(node, "axis", 0), ctx.meta(X).shape.length);
      const parts = node.outputs.map((o, i) => ctx.dOut(i) ?? zerosOf(b, o, ctx.dtype));
      return b.op("Concat", parts, { axis: int(axis) }, `${X}_grad`);
    },
  },
};

export const Expand: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    const target = ctx.input(1).value;
    if (!target)
      ctx.fail("Expand's shape must be a constant or a Shape-only subgraph the compiler can evaluate");
    return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, target, ctx.fail) }];
  },
  // dX = dY summed over the broadcast axes (the driver un-broadcasts)
  grad: { 0: (ctx: GradCtx) => ({ value: ctx.dY, from: ctx.meta(ctx.node.outputs[0]).shape }) },
};

export const Trilu: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  // the kept triangle passes dY through, the zeroed one passes nothing: dX = Trilu(dY)
  grad: {
    0: (ctx) =>
      ctx.b.op("Trilu", [ctx.dY, ...ctx.node.inputs.slice(1)], ctx.node.attrs, `${ctx.node.inputs[0]}_grad`),
  },
};
