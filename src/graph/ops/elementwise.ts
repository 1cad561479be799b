// Broadcasting binary arithmetic and pointwise activations.
import { attrFloat } from "../ir.ts";
import {
  broadcastShapes,
  type Grad,
  type GradCtx,
  type OpRule,
  type ShapeCtx,
  sameAsInput,
} from "./types.ts";

function binaryShape(ctx: ShapeCtx) {
  const a = ctx.input(0);
  const b = ctx.input(1);
  return [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape, ctx.fail) }];
}

const bc = (ctx: GradCtx, value: string): Grad => ({ value, from: ctx.meta(ctx.node.outputs[0]).shape });

export const Add: OpRule = {
  diff: [0, 1],
  shape: binaryShape,
  // dA = dY, dB = dY (each un-broadcast)
  grad(ctx, [dY]) {
    if (!dY) return [null, null];
    return [ctx.needs(0) ? bc(ctx, dY) : null, ctx.needs(1) ? bc(ctx, dY) : null];
  },
};

export const Sub: OpRule = {
  diff: [0, 1],
  shape: binaryShape,
  // dA = dY, dB = −dY
  grad(ctx, [dY]) {
    if (!dY) return [null, null];
    const [, B] = ctx.node.inputs;
    return [
      ctx.needs(0) ? bc(ctx, dY) : null,
      ctx.needs(1) ? bc(ctx, ctx.b.op("Neg", [dY], {}, `${B}_grad`)) : null,
    ];
  },
};

export const Mul: OpRule = {
  diff: [0, 1],
  shape: binaryShape,
  // dA = dY·B, dB = dY·A
  grad(ctx, [dY]) {
    if (!dY) return [null, null];
    const [A, B] = ctx.node.inputs;
    return [
      ctx.needs(0) ? bc(ctx, ctx.b.op("Mul", [dY, B], {}, `${A}_grad`)) : null,
      ctx.needs(1) ? bc(ctx, ctx.b.op("Mul", [dY, A], {}, `${B}_grad`)) : null,
    ];
  },
};

export const Div: OpRule = {
  diff: [0, 1],
  shape: binaryShape,
  // Y = A/B: dA = dY/B, dB = −dY·A/B² = −dY·Y/B
  grad(ctx, [dY]) {
    if (!dY) return [null, null];
    const { b, node } = ctx;
    const [A, B] = node.inputs;
    const out: Grad[] = [null, null];
    if (ctx.needs(0)) out[0] = bc(ctx, b.op("Div", [dY, B], {}, `${A}_grad`));
    if (ctx.needs(1)) {
      const yOverB = b.op("Div", [node.outputs[0], B], {}, `${B}_y_over_b`);
      out[1] = bc(ctx, b.op("Neg", [b.op("Mul", [dY, yOverB])], {}, `${B}_grad`));
    }
    return out;
  },
};

export const Relu: OpRule = {
  diff: [0],
  shape: sameAsInput,
  // dX = dY where X > 0, else 0 (the subgradient at 0 is 0, as in PyTorch)
  grad(ctx, [dY]) {
    if (!dY) return [null];
    const { b, node } = ctx;
    const zero = b.fconst(ctx.dtype, 0);
    const pos = b.op("Greater", [node.outputs[0], zero], {}, `${node.inputs[0]}_pos`);
    return [b.op("Where", [pos, dY, zero], {}, `${node.inputs[0]}_grad`)];
  },
};

export const LeakyRelu: OpRule = {
  diff: [0],
  shape: sameAsInput,
  // dX = dY where X > 0, else α·dY
  grad(ctx, [dY]) {
    if (!dY) return [null];
    const { b, node } = ctx;
    const alpha = attrFloat(node, "alpha", 0.01);
    const X = node.inputs[0];
    const pos = b.op("Greater", [X, b.fconst(ctx.dtype, 0)], {}, `${X}_pos`);
    const scaled = b.op("Mul", [dY, b.fconst(ctx.dtype, alpha)]);
    return [b.op("Where", [pos, dY, scaled], {}, `${X}_grad`)];
  },
};

export const Sigmoid: OpRule = {
  diff: [0],
  shape: sameAsInput,
  // dX = dY·Y·(1 − Y)
  grad(ctx, [dY]) {
    if (!dY) return [null];
    const { b, node } = ctx;
    const Y = node.outputs[0];
    const oneMinus = b.op("Sub", [b.fconst(ctx.dtype, 1), Y]);
    return [b.op("Mul", [b.op("Mul", [dY, Y]), oneMinus], {}, `${node.inputs[0]}_grad`)];
  },
};

export const Tanh: OpRule = {
  diff: [0],
  shape: sameAsInput,
  // dX = dY·(1 − Y²)
  grad(ctx, [dY]) {
    if (!dY) return [null];
    const { b, node } = ctx;
    const Y = node.outputs[0];
    const oneMinus = b.op("Sub", [b.fconst(ctx.dtype, 1), b.op("Mul", [Y, Y])]);
    return [b.op("Mul", [dY, oneMinus], {}, `${node.inputs[0]}_grad`)];
  },
};

export const Identity: OpRule = {
  diff: [0],
  shape(ctx) {
    return [{ ...ctx.input(0) }];
  },
  grad(_ctx, [dY]) {
    return [dY];
  },
};
