// Ops that make tensors from shapes or numbers rather than from other tensors' elements:
// ConstantOfShape and Range. No gradient flows through them; their shape rules evaluate the small
// constants exporters build (a zero initial state shaped [1, batch, hidden], position indices).
import type { Builder, Dim, DType } from "../ir.ts";
import { tensorValue } from "./shape.ts";
import type { OpRule, ShapeCtx } from "./types.ts";

/** Zeros shaped like value `v`, in a float dtype (for gradients of outputs nothing downstream used). */
export function zerosOf(b: Builder, v: string, dtype: DType): string {
  return b.op("ConstantOfShape", [b.op("Shape", [v])], { value: b.zerosAttr(dtype) }, `${v}_zeros`);
}

export const ConstantOfShape: OpRule = {
  shape(ctx: ShapeCtx) {
    const shape = ctx.input(0).value;
    if (!shape) ctx.fail("the shape must be a constant or a Shape-only subgraph the compiler can evaluate");
    const a = ctx.node.attrs.value;
    const t = a?.type === "tensor" ? a.t : undefined;
    const dtype: DType = t?.dtype ?? "float32";
    const fill = t ? tensorValue(t)?.[0] : 0;
    const n = shape.every((d) => typeof d === "number") ? (shape as number[]).reduce((p, d) => p * d, 1) : -1;
    const value: Dim[] | undefined =
      n >= 0 && n <= 64 && fill !== undefined ? new Array(n).fill(fill) : undefined;
    return [{ dtype, shape, value }];
  },
};

export const Range: OpRule = {
  shape(ctx: ShapeCtx) {
    const [start, limit, delta] = [0, 1, 2].map((i) => ctx.input(i));
    const [s, l, d] = [start, limit, delta].map((m) => m.value?.[0]);
    if (typeof s !== "number" || typeof l !== "number" || typeof d !== "number" || d === 0)
      ctx.fail("Range is supported where start, limit and delta are constants (delta ≠ 0)");
    const n = Math.max(Math.ceil((l - s) / d), 0);
    const value = n <= 64 ? Array.from({ length: n }, (_, i) => s + i * d) : undefined;
    return [{ dtype: start.dtype, shape: [n], value }];
  },
};
