// Pooling: MaxPool, AveragePool (2-D, and 1-D as 2-D of height 1), GlobalAveragePool.
import { attrInt, attrInts, attrString, type Dim, type DType, int, ints, type Node, numel } from "../ir.ts";
import { expand1d, outputPadding, spatial, window2d, with1d } from "./conv.ts";
import type { Meta, OpRule, ShapeCtx } from "./types.ts";

function poolShape(ctx: ShapeCtx) {
  const x = ctx.input(0);
  const hw = spatial(ctx, x.shape);
  const k = attrInts(ctx.node, "kernel_shape");
  if (k?.length !== 2) ctx.fail("kernel_shape must list 2 sizes");
  const win = window2d(ctx.node, hw, [k[0], k[1]], attrInt(ctx.node, "ceil_mode", 0) === 1);
  return { x, win, shape: [x.shape[0], x.shape[1], win.out[0], win.out[1]] };
}

function zerosTensor(dtype: DType) {
  return {
    type: "tensor" as const,
    t: { name: "", dtype, dims: [1], data: dtype === "float64" ? new Float64Array(1) : new Float32Array(1) },
  };
}

/**
 * Non-overlapping windows that tile the input exactly (kernel = stride, no padding or dilation, sizes
 * divisible): the common 2×2/2 pool. Its gradient is computed window-locally (a stack of window
 * positions compared with the pooled output) instead of with MaxPool's Indices output, whose ORT kernel
 * is several times slower than the plain MaxPool, plus a ScatterElements.
 */
function tiles(node: Node, xs: Dim[]): { k: [number, number]; out: [number, number] } | null {
  const k = attrInts(node, "kernel_shape");
  const s = attrInts(node, "strides") ?? [1, 1];
  const d = attrInts(node, "dilations") ?? [1, 1];
  const pads = attrInts(node, "pads") ?? [0, 0, 0, 0];
  const autoPad = attrString(node, "auto_pad", "NOTSET");
  const [h, w] = [xs[2], xs[3]];
  if (!k || typeof h !== "number" || typeof w !== "number" || typeof xs[1] !== "number") return null;
  if (k[0] !== s[0] || k[1] !== s[1] || d[0] !== 1 || d[1] !== 1 || pads.some((p) => p !== 0)) return null;
  if ((autoPad !== "NOTSET" && autoPad !== "VALID") || h % k[0] !== 0 || w % k[1] !== 0) return null;
  return { k: [k[0], k[1]], out: [h / k[0], w / k[1]] };
}

export const MaxPool: OpRule = {
  shape: with1d(
    (ctx: ShapeCtx): Meta[] => {
      const { x, shape } = poolShape(ctx);
      return [
        { dtype: x.dtype, shape },
        { dtype: "int64", shape },
      ];
    },
    [0],
  ),
  expand: expand1d([0]),
  // Training asks MaxPool for the flat index of every window's maximum, unless the windows tile.
  forward(ctx) {
    const { b, node } = ctx;
    if (ctx.mode === "eval" || (tiles(node, ctx.meta(node.inputs[0]).shape) && !node.outputs[1]))
      return b.raw(node);
    const indices = node.outputs[1] || b.fresh(`${node.outputs[0]}_argmax`);
    b.raw({ ...node, outputs: [node.outputs[0], indices] });
    ctx.save("indices", indices);
  },
  grad: {
    0(ctx) {
      const { b, node, dY } = ctx;
      const X = node.inputs[0];
      const xs = ctx.meta(X).shape;
      const t = tiles(node, xs);
      if (t && !node.outputs[1]) {
        // Each image plane becomes a [kh·kw, Ho, Wo] stack of window positions (SpaceToDepth for square
        // windows, else a Conv with one-hot kernels: exact, x·1 + Σ 0·x'). A position is chosen when it
        // equals the window's maximum Y and no earlier position does (PyTorch's first maximum on ties):
        // with e = [x = Y] as 0/1 and b = the exclusive cumsum of e (maxima before it), chosen = [e > b].
        // It takes dY, and a Col2Im (opset 18; before it a ConvTranspose with one-hot kernels) puts each
        // back in its place: the windows do not overlap, so it only moves values. Per step, profiled Loop:
        // the seed CNN's 409 → 196 µs on 2 threads (370 → 246 on 1), LeNet-5's 274 → 80 (256 → 76), the
        // same values. (ArgMax over the stack and DepthToSpace for the way back measured slower.)
        const [kh, kw] = t.k;
        const [ho, wo] = t.out;
        const kk = kh * kw;
        // made only where used (non-square windows, or a builder below opset 18)
        const onehotKernels = () =>
          b.fconst(
            ctx.dtype,
            Array.from({ length: kk * kk }, (_, i) => (Math.floor(i / kk) === i % kk ? 1 : 0)),
            [kk, 1, kh, kw],
          );
        const win = { kernel_shape: ints([kh, kw]), strides: ints([kh, kw]) };
        const planes = b.op("Reshape", [X, b.i64([-1, 1, xs[2] as number, xs[3] as number])]);
        const taps =
          kh === kw
            ? b.op("SpaceToDepth", [planes], { blocksize: int(kh) }, `${X}_windows`)
            : b.op("Conv", [planes, onehotKernels()], win, `${X}_windows`);
        const yPlanes = b.op("Reshape", [node.outputs[0], b.i64([-1, 1, ho, wo])]);
        const isMax = b.cast(b.op("Equal", [taps, yPlanes]), ctx.dtype, `${X}_is_max`);
        const before = b.op("CumSum", [isMax, b.i64(1)], { exclusive: int(1) }, `${X}_maxima_before`);
        const dYplanes = b.op("Reshape", [dY, b.i64([-1, 1, ho, wo])]);
        // chosen as 0/1 floats: e − b is an integer ≤ 1, so Relu(e − b) is exactly [e > b]. The stack
        // then takes dY by a Mul, which onnxruntime splits across intra-op threads, where a Where on a
        // bool mask runs on one thread (4–8% of the seed CNN's step even single-threaded). A NaN in dY
        // now reaches the whole window instead of its chosen position only; the step is lost either way.
        const chosen = b.op("Relu", [b.op("Sub", [isMax, before])], {}, `${X}_chosen`);
        const spread = b.op("Mul", [chosen, dYplanes]);
        const hw = [xs[2] as number, xs[3] as number];
        const back =
          b.opset >= 18
            ? b.op("Col2Im", [b.op("Reshape", [spread, b.i64([0, kk, -1])]), b.i64(hw), b.i64(t.k)], {
                strides: ints(t.k),
              })
            : b.op("ConvTranspose", [spread, onehotKernels()], win);
        const dX = b.op("Reshape", [back, b.op("Shape", [X])], {}, `${X}_grad`);
        // A conv's weight and bias gradients read `spread` directly (ops/conv.ts); when nothing else reads
        // dX (the first conv, whose input needs no gradient) the interleave above is pruned.
        b.windowed.set(dX, { spread, k: [kh, kw], out: [ho, wo] });
        return dX;
      }
      // dX = zeros(X) with dY scatter-added at the argmax indices (windows may overlap)
      const size = b.unsqueeze(b.op("Size", [X]), [0], `${X}_numel`);
      const zeros = b.op("ConstantOfShape", [size], { value: zerosTensor(ctx.dtype) }, `${X}_zeros`);
      const flat = b.i64([-1]);
      const idx = b.op("Reshape", [ctx.saved("indices"), flat]);
      const upd = b.op("Reshape", [dY, flat]);
      const scattered = b.op("ScatterElements", [zeros, idx, upd], {
        axis: int(0),
        reduction: { type: "string", s: "add" },
      });
      return b.op("Reshape", [scattered, b.op("Shape", [X])], {}, `${X}_grad`);
    },
  },
};

export const AveragePool: OpRule = {
  shape: with1d(
    (ctx: ShapeCtx): Meta[] => {
      const { x, shape } = poolShape(ctx);
      if (attrInt(ctx.node, "ceil_mode", 0)) ctx.fail("AveragePool with ceil_mode=1 is not supported");
      return [{ dtype: x.dtype, shape }];
    },
    [0],
  ),
  expand: expand1d([0]),
  // dX = ConvTranspose(dY / count, ones): each output spreads its gradient evenly over its window,
  // where count is the window's element count (excluding padding unless count_include_pad)
  grad: {
    0(ctx) {
      const { b, node, dY } = ctx;
      const X = node.inputs[0];
      const xs = ctx.meta(X).shape;
      const hw: [number, number] = [xs[2] as number, xs[3] as number];
      const k = attrInts(node, "kernel_shape") as number[];
      const win = window2d(node, hw, [k[0], k[1]]);
      const includePad = attrInt(node, "count_include_pad", 0) === 1;
      const counts: number[] = [];
      for (let oy = 0; oy < win.out[0]; oy++) {
        for (let ox = 0; ox < win.out[1]; ox++) {
          if (includePad) {
            counts.push(k[0] * k[1]);
            continue;
          }
          let c = 0;
          for (let i = 0; i < k[0]; i++) {
            for (let j = 0; j < k[1]; j++) {
              const y = oy * win.s[0] - win.pads[0] + i * win.d[0];
              const x = ox * win.s[1] - win.pads[1] + j * win.d[1];
              if (y >= 0 && y < hw[0] && x >= 0 && x < hw[1]) c++;
            }
          }
          counts.push(c);
        }
      }
      const inv = b.fconst(
        ctx.dtype,
        counts.map((c) => 1 / c),
        [win.out[0], win.out[1]],
      );
      const scaled = b.op("Mul", [dY, inv]);
      const asImages = b.op("Reshape", [scaled, b.i64([-1, 1, win.out[0], win.out[1]])]);
      const ones = b.fconst(ctx.dtype, new Array(numel(k)).fill(1), [1, 1, k[0], k[1]]);
      const spread = b.op("ConvTranspose", [asImages, ones], {
        strides: ints(win.s),
        dilations: ints(win.d),
        pads: ints(win.pads),
        kernel_shape: ints(k),
        output_padding: ints(outputPadding(win, hw)),
      });
      return b.op("Reshape", [spread, b.op("Shape", [X])], {}, `${X}_grad`);
    },
  },
};

export const GlobalAveragePool: OpRule = {
  shape(ctx: ShapeCtx) {
    const x = ctx.input(0);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, 2), ...x.shape.slice(2).map(() => 1)] }];
  },
  // dX = broadcast(dY / (H·W)) over the spatial axes
  grad: {
    0(ctx) {
      const { b, node, dY } = ctx;
      const X = node.inputs[0];
      const area = numel(ctx.meta(X).shape.slice(2) as number[]);
      const scaled = b.op("Mul", [dY, b.fconst(ctx.dtype, 1 / area)]);
      return b.op("Expand", [scaled, b.op("Shape", [X])], {}, `${X}_grad`);
    },
  },
};
