import type { GradstreamRunManager } from "../../src/runs/manager.ts";
import { EXPERIMENTS } from "../../src/train/config.ts";

/**
 * Starts reference experiment 1's linear run for `epochs` epochs (10 steps each): the run
 * crash-child.ts trains until it is killed, and the one the resume tests compare it with.
 */
export async function startLinearRun(m: GradstreamRunManager, epochs: number) {
  const { dataset, ...config } = EXPERIMENTS.linear.runs[0];
  const model = await m.builtinModel("linear");
  return m.start({ modelId: model.id, dataset: { spec: dataset }, config: { ...config, epochs } });
}
