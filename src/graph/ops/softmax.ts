// Softmax and LogSoftmax along one axis (opset ≥ 13 semantics).
import { attrInt } from "../ir.ts";
import { normAxis, type OpRule, sameAsInput } from "./types.ts";

export const Softmax: OpRule = {
  shape: sameAsInput,
  // dX = Y ⊙ (dY − Σ_axis(dY ⊙ Y))
  grad: {
    0(ctx) {
      const { b, node, dY } = ctx;
      const Y = node.outputs[0];
      const axis = normAxis(attrInt(node, "axis", -1), ctx.meta(Y).shape.length);
      const dot = b.reduceSum(b.op("Mul", [dY, Y]), [axis], true);
      return b.op("Mul", [Y, b.op("Sub", [dY, dot])], {}, `${node.inputs[0]}_grad`);
    },
  },
};

export const LogSoftmax: OpRule = {
  shape: sameAsInput,
  // dX = dY − exp(Y) ⊙ Σ_axis dY
  grad: {
    0(ctx) {
      const { b, node, dY } = ctx;
      const Y = node.outputs[0];
      const axis = normAxis(attrInt(node, "axis", -1), ctx.meta(Y).shape.length);
      const total = b.reduceSum(dY, [axis], true);
      const p = b.op("Exp", [Y]);
      return b.op("Sub", [dY, b.op("Mul", [p, total])], {}, `${node.inputs[0]}_grad`);
    },
  },
};
