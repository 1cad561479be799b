// The noise diagnostics' cost for `npm run bench runner`: the same run trained with the probe at its
// default interval and with `noise: false`, alternated in this process (best of each), so machine load
// weighs on both alike. Wall time covers everything the probe adds: the baseline probe before the first
// chunk, every probe after a chunk, and the shorter chunks at probe boundaries.
import { builtinModelBytes } from "../../src/train/catalog.ts";
import { NOISE_DEFAULTS } from "../../src/train/noise-config.ts";
import { Trainer } from "../../src/train/runner.ts";

interface CostCase {
  name: string;
  model: string;
  config: Record<string, unknown>;
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

async function stepsPerS(
  c: CostCase,
  noise: boolean,
): Promise<{ stepsPerS: number; probes: number; share: number }> {
  const trainer = await Trainer.create({
    model: builtinModelBytes(c.model),
    config: noise ? c.config : { ...c.config, noise: false },
    spinning: false,
  });
  const t0 = performance.now();
  let steps = 0;
  const it = trainer.chunks();
  for (let r = await it.next(); !r.done; r = await it.next()) steps += r.value.rows.length;
  const s = steps / ((performance.now() - t0) / 1000);
  const probes = trainer.noise?.stats.probes ?? 0;
  // the probe's session.run time against the training Loop's, in the same run: load weighs on both
  const share = (trainer.noise?.stats.ms ?? 0) / trainer.stats.sessionMs;
  await trainer.release();
  return { stepsPerS: s, probes, share };
}

export async function noiseCost(cases: CostCase[], rounds = 2): Promise<void> {
  for (const c of cases) {
    let off = 0;
    let on = 0;
    let probes = 0;
    let share = Number.POSITIVE_INFINITY;
    for (let i = 0; i < rounds; i++) {
      off = Math.max(off, (await stepsPerS(c, false)).stepsPerS);
      const r = await stepsPerS(c, true);
      on = Math.max(on, r.stepsPerS);
      probes = r.probes;
      share = Math.min(share, r.share);
    }
    console.log(
      JSON.stringify({
        bench: "noise diagnostics cost",
        case: c.name,
        every: NOISE_DEFAULTS.every,
        probes_after_chunks: probes,
        steps_per_s_off: round(off, 1),
        steps_per_s_on: round(on, 1),
        ratio_on_vs_off: round(on / off),
        slowdown_pct: round((off / on - 1) * 100, 1),
        probe_time_vs_training_session_pct: round(share * 100, 2),
        target: "slowdown ≤ 5%",
      }),
    );
  }
}

/** Example 2's batch-10 run for 20 epochs and the seed CNN for 6 epochs of 3,200 images (600 steps). */
export const NOISE_COST_CASES: CostCase[] = [
  {
    name: "linear batch 10 K=100, 2,000 steps",
    model: "linear",
    config: {
      dataset: "batch-size",
      optimizer: { kind: "sgd", lr: 0.01 },
      batchSize: 10,
      k: 100,
      epochs: 20,
    },
  },
  {
    name: "cnn-dropout batch 32 K=10, 600 steps",
    model: "cnn",
    config: {
      dataset: "synthetic:samples=3200,shape=3x32x32,classes=10",
      optimizer: { kind: "adam", lr: 0.001 },
      batchSize: 32,
      k: 10,
      epochs: 6,
    },
  },
];
