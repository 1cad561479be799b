// Parity with PyTorch 2.13 on fixtures written by test/fixtures/torch/make_extra_fixtures.py: a
// BatchNorm CNN (grouped strided conv, LeakyReLU, AvgPool, GlobalAveragePool) with SGD momentum,
// dampening and weight decay, and an MLP (Tanh, Dropout, Sigmoid) with AdamW and with centered
// RMSprop with momentum; a CNN exported in EVAL mode with constant folding whose flatten is
// x.view(x.size(0), -1) (a Shape→Gather→Unsqueeze→Concat→Reshape subgraph), trained with Nesterov
// SGD and weight decay; the MLP exported with constant folding, with Adam and L2 weight decay. After training, the eval graph reproduces PyTorch's eval-mode loss, which
// checks the BatchNorm running statistics carried through the 20 steps.
import { describe, expect, it } from "vitest";
import { readFixture, runParity, trainFixture } from "../../scripts/commands/parity.ts";
import { compile } from "../../src/graph/compile.ts";
import { createSession, type HostTensor } from "../../src/train/session.ts";

const FIX = "test/fixtures/torch";

describe("training matches PyTorch 2.13 on the extra fixtures", () => {
  for (const name of [
    "bn_cnn_sgd_momentum",
    "mlp_adamw",
    "mlp_rmsprop",
    "view_cnn_eval_folded",
    "mlp_adam_l2_folded",
  ]) {
    it(`${name}: all 20 losses within 1e-4 and identical accuracies; the trained eval loss matches PyTorch's`, async () => {
      const r = await runParity(`${FIX}/${name}`);
      expect(r.maxAbsLossDiff).toBeLessThan(1e-4);
      expect(r.accuracyMismatches).toBe(0);
      const f = readFixture(`${FIX}/${name}`);
      const c = compile(f.model, { optimizer: f.optimizer, dropout: false });
      const trace = await trainFixture(f, c, "loop", 8);
      const s = await createSession(c.evalStep);
      const per = f.inputShape.reduce((a, b) => a * b, 1) * f.batch;
      const feeds: Record<string, HostTensor> = {
        x: { dims: [f.batch, ...f.inputShape], data: f.x.subarray(0, per) },
        y: { dims: [f.batch], data: f.y.subarray(0, f.batch) },
      };
      for (const t of c.tensors)
        if (t.role !== "optimizer") feeds[t.name] = { dims: t.shape, data: trace.state[t.name] };
      const out = await s.run(feeds);
      expect(f.evalLoss).toBeDefined();
      expect(Math.abs(Number(out.loss.data[0]) - (f.evalLoss ?? Number.NaN))).toBeLessThan(1e-4);
      // the exported inference model (BatchNorm out of training mode, Dropout gone) predicts the same
      const inf = await createSession(c.exportInference(trace.state));
      const logits = (await inf.run({ [c.input.name]: feeds.x })).logits.data as Float32Array;
      const ref = out.logits.data as Float32Array;
      expect(logits.length).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) expect(Math.abs(logits[i] - ref[i])).toBeLessThan(1e-5);
      await Promise.all([s.release(), inf.release()]);
    });
  }
});
