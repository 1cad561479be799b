// Losses over logits [B, C] and integer class labels [B] (or [B, T, V] and [B, T] for per-position
// targets), and the per-batch diagnostics that explain the gap between loss and accuracy. Everything is a batch mean; B is read at run time, so one graph
// serves every batch size.
import { type Builder, int } from "./ir.ts";

export type LossKind = "cross_entropy" | "mse" | "bce_with_logits";

export interface LossValues {
  loss: string;
  /** dLoss/dlogits (absent when gradients were not asked for). */
  dlogits: string | null;
  accuracy: string;
  confidence: string;
  trueProb: string;
}

export function buildLoss(
  b: Builder,
  kind: LossKind,
  logits: string,
  y: string,
  classes: number,
  perPosition: boolean,
  withGrad: boolean,
): LossValues {
  if (perPosition) return sequenceCrossEntropy(b, logits, y, classes, withGrad);
  // B as a float scalar, from the logits' shape
  const batch = b.cast(b.op("Gather", [b.op("Shape", [logits]), b.i64(0)]), "float32", "batch_size");
  const mean = (v: string, hint: string) => b.op("Div", [b.reduceSum(v, null, false), batch], {}, hint);
  const yCol = b.unsqueeze(y, [1], "label_col");
  let loss: string;
  let dlogits: string | null = null;
  let probs: string;
  if (kind === "cross_entropy") {
    // loss = −(1/B) Σₙ log softmax(zₙ)[yₙ];  dL/dz = (softmax(z) − onehot(y)) / B
    const logp = b.op("LogSoftmax", [logits], { axis: int(1) }, "log_probs");
    probs = b.op("Exp", [logp], {}, "probs");
    loss = b.op("Neg", [mean(b.op("GatherElements", [logp, yCol], { axis: int(1) }), "nll")], {}, "loss");
    if (withGrad) {
      const onehot = oneHot(b, y, classes);
      dlogits = b.op("Div", [b.op("Sub", [probs, onehot]), batch], {}, "logits_grad");
    }
  } else {
    probs = b.op("Softmax", [logits], { axis: int(1) }, "probs");
    const onehot = oneHot(b, y, classes);
    // both average over all B·C elements, as PyTorch's reduction="mean" does
    const count = b.op("Mul", [batch, b.f32(classes)], {}, "element_count");
    const meanAll = (v: string, hint: string) => b.op("Div", [b.reduceSum(v, null, false), count], {}, hint);
    if (kind === "mse") {
      // loss = mean((z − t)²);  dL/dz = 2(z − t) / (B·C)
      const diff = b.op("Sub", [logits, onehot], {}, "residual");
      loss = meanAll(b.op("Mul", [diff, diff]), "loss");
      if (withGrad) dlogits = b.op("Div", [b.op("Mul", [diff, b.f32(2)]), count], {}, "logits_grad");
    } else {
      // loss = mean(max(z,0) − z·t + log(1 + e^−|z|))  (the stable form);  dL/dz = (σ(z) − t) / (B·C)
      const relu = b.op("Relu", [logits]);
      const zt = b.op("Mul", [logits, onehot]);
      const softplus = b.op("Log", [
        b.op("Add", [b.f32(1), b.op("Exp", [b.op("Neg", [b.op("Abs", [logits])])])]),
      ]);
      loss = meanAll(b.op("Add", [b.op("Sub", [relu, zt]), softplus]), "loss");
      if (withGrad)
        dlogits = b.op("Div", [b.op("Sub", [b.op("Sigmoid", [logits]), onehot]), count], {}, "logits_grad");
    }
  }
  // accuracy = mean(argmax z == y); confidence = mean max-probability; true_prob = mean p[y]
  const pred = b.op("ArgMax", [logits], { axis: int(1), keepdims: int(0) }, "prediction");
  const hit = b.cast(b.op("Equal", [pred, y]), "float32", "hit");
  const accuracy = mean(hit, "accuracy");
  const confidence = mean(b.reduce("ReduceMax", probs, [1], false, "max_prob"), "confidence");
  const trueProb = mean(b.op("GatherElements", [probs, yCol], { axis: int(1) }), "true_prob");
  return { loss, dlogits, accuracy, confidence, trueProb };
}

function oneHot(b: Builder, y: string, classes: number): string {
  return b.op("OneHot", [y, b.i64(classes), b.f32([0, 1])], { axis: int(-1) }, "onehot");
}

/** Labels equal to this are padding: they add nothing to the loss, the gradient or the accuracy. */
export const IGNORE_INDEX = -100;

/**
 * Cross-entropy over logits [B, T, V] and labels [B, T] (a language model): every position is a
 * sample, positions labelled IGNORE_INDEX are left out, and the means are over the n counted
 * positions (PyTorch's CrossEntropyLoss(ignore_index=-100) on the flattened [B·T, V] logits):
 *   loss = −(1/n) Σ m·log softmax(z)[y];  dL/dz = m·(softmax(z) − onehot(y))/n;  m = [y ≠ −100]
 * accuracy, confidence and true_prob are token means over the same positions.
 */
function sequenceCrossEntropy(
  b: Builder,
  logits: string,
  y: string,
  classes: number,
  withGrad: boolean,
): LossValues {
  const flat = b.op("Reshape", [logits, b.i64([-1, classes])], {}, "token_logits");
  const yFlat = b.op("Reshape", [y, b.i64([-1])], {}, "token_labels");
  const keep = b.op("Not", [b.op("Equal", [yFlat, b.i64(IGNORE_INDEX)])], {}, "token_counted");
  const mask = b.cast(keep, "float32", "token_mask");
  // n ≥ 1 so a batch of padding only gives 0, not NaN
  const count = b.op("Max", [b.reduceSum(mask, null, false), b.f32(1)], {}, "token_count");
  const safeY = b.op("Where", [keep, yFlat, b.i64(0)], {}, "token_class");
  const yCol = b.unsqueeze(safeY, [1], "token_col");
  const mean = (v: string, hint: string) =>
    b.op("Div", [b.reduceSum(b.op("Mul", [v, mask]), null, false), count], {}, hint);
  const logp = b.op("LogSoftmax", [flat], { axis: int(1) }, "log_probs");
  const probs = b.op("Exp", [logp], {}, "probs");
  const picked = b.op("Reshape", [b.op("GatherElements", [logp, yCol], { axis: int(1) }), b.i64([-1])]);
  const loss = b.op("Neg", [mean(picked, "nll")], {}, "loss");
  let dlogits: string | null = null;
  if (withGrad) {
    const onehot = oneHot(b, safeY, classes);
    const scale = b.op("Div", [b.unsqueeze(mask, [1]), count]);
    const g = b.op("Mul", [b.op("Sub", [probs, onehot]), scale]);
    dlogits = b.op("Reshape", [g, b.op("Shape", [logits])], {}, "logits_grad");
  }
  const pred = b.op("ArgMax", [flat], { axis: int(1), keepdims: int(0) }, "prediction");
  const hit = b.cast(b.op("Equal", [pred, safeY]), "float32", "hit");
  const accuracy = mean(hit, "accuracy");
  const confidence = mean(b.reduce("ReduceMax", probs, [1], false, "max_prob"), "confidence");
  const trueP = b.op("Reshape", [b.op("GatherElements", [probs, yCol], { axis: int(1) }), b.i64([-1])]);
  const trueProb = mean(trueP, "true_prob");
  return { loss, dlogits, accuracy, confidence, trueProb };
}
