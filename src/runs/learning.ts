// What the executor asks after each persisted chunk: store and publish its evaluations (every
// `validation.everySteps` steps and each epoch end), and decide whether the run should stop here:
// early stopping (watch.ts), an ASHA rung (asha.ts), or neither. A plateau (the same rule as early
// stopping, with its own settings) sends an alert once instead of stopping.
import type { Db, Run } from "../db/index.ts";
import { validationMetrics, writeValidation } from "../db/learning.ts";
import { getSweep } from "../db/sweeps.ts";
import type { RunConfig } from "../train/config.ts";
import type { CheckpointBlob, TrainChunk } from "../train/runner.ts";
import type { Alerter } from "./alerts.ts";
import { runAlerts } from "./alerts.ts";
import { AshaTrial, validateAsha } from "./asha.ts";
import type { RunEvents } from "./events.ts";
import { DebiasedEma, type EarlyStoppingConfig, Patience, type WatchedMetric } from "./watch.ts";

export interface LearningContext {
  db: Db;
  events: RunEvents;
  alerter: Alerter | null;
}

export interface StopVerdict {
  reason: string;
  /** The last step the run trained (rows after it are not stored). */
  lastStep: number;
  /** The state after lastStep, when the runner snapshotted it (kept as the run's final checkpoint). */
  checkpoint: CheckpointBlob | null;
}

interface Watcher {
  config: EarlyStoppingConfig;
  patience: Patience;
}

function newWatcher(config: EarlyStoppingConfig): Watcher {
  return { config, patience: new Patience(config) };
}

/** The stored early-stopping settings of a run (Run.earlyStopping), or null. */
export function earlyStoppingOf(run: Pick<Run, "earlyStopping">): EarlyStoppingConfig | null {
  return (run.earlyStopping as unknown as EarlyStoppingConfig | null) ?? null;
}

export class RunLearning {
  private readonly emas = new Map<number, DebiasedEma>();
  private plateauSent = false;
  /** The step whose evaluation was the best so far (early stopping), as Run.bestStep records it. */
  bestStep: number | null;

  private constructor(
    private readonly ctx: LearningContext,
    private readonly run: Run,
    private readonly everySteps: number | null,
    private readonly early: Watcher | null,
    private readonly plateau: Watcher | null,
    private readonly asha: AshaTrial | null,
  ) {
    this.bestStep = run.bestStep;
    for (const w of [early?.config, plateau?.config, asha?.config])
      if (w?.metric === "train_loss_smoothed" && !this.emas.has(w.smoothing))
        this.emas.set(w.smoothing, new DebiasedEma(w.smoothing));
  }

  /** Reads the run's settings (and its sweep's ASHA ones); replays stored evaluations before `startStep`. */
  static async create(
    ctx: LearningContext,
    run: Run,
    cfg: RunConfig,
    startStep: number,
  ): Promise<RunLearning> {
    const es = earlyStoppingOf(run);
    const plateau = runAlerts(run).plateau;
    let asha: AshaTrial | null = null;
    if (run.sweepId !== null) {
      const spec = (await getSweep(ctx.db, run.sweepId))?.spec as { asha?: unknown } | undefined;
      if (spec?.asha) asha = new AshaTrial(ctx.db, run.sweepId, run.id, validateAsha(spec.asha));
    }
    const l = new RunLearning(
      ctx,
      run,
      cfg.validation.everySteps,
      es && newWatcher(es),
      plateau && newWatcher(plateau),
      asha,
    );
    if (startStep > 0 && (l.early || l.plateau)) {
      // A resumed run goes on counting patience from where it was (validation metrics only: the
      // smoothed training loss restarts its average).
      for (const v of await validationMetrics(ctx.db, run.id))
        if (v.step < startStep)
          for (const w of [l.early, l.plateau])
            if (w && w.config.metric !== "train_loss_smoothed")
              w.patience.observe(w.config.metric === "val_loss" ? v.loss : v.accuracy, v.step);
    }
    return l;
  }

  /** Whether the runner should snapshot the state at each evaluation point (for the best checkpoint). */
  get wantsEvalCheckpoints(): boolean {
    return this.early !== null || this.asha !== null;
  }

  private value(metric: WatchedMetric, c: TrainChunk, smoothing: number): number | null {
    if (metric === "train_loss_smoothed") return this.emas.get(smoothing)?.value() ?? null;
    const ev = c.evals[c.evals.length - 1];
    if (!ev) return null;
    return metric === "val_loss" ? ev.loss : ev.accuracy;
  }

  /** After the chunk's rows were committed: its evaluations, then a stop decision (or null). */
  async chunk(c: TrainChunk): Promise<StopVerdict | null> {
    const runId = this.run.id;
    for (const ev of c.evals) {
      // float32, as the model computes it (the per-step rows are float32 values too).
      const v = {
        step: ev.step,
        epoch: ev.epoch,
        loss: Math.fround(ev.loss),
        accuracy: Math.fround(ev.accuracy),
        samples: ev.samples,
      };
      await writeValidation(this.ctx.db, runId, v);
      this.ctx.events.validation(runId, v);
    }
    if (!c.rows.length) return null;
    for (const [, ema] of this.emas) for (const r of c.rows) ema.push(r.loss);
    const last = c.rows[c.rows.length - 1].step;
    const end = last + 1;
    const atPoint =
      c.epoch !== null || c.evals.length > 0 || (this.everySteps !== null && end % this.everySteps === 0);
    if (!atPoint) return null;
    const cp = c.evalCheckpoint ?? null;
    if (this.plateau && !this.plateauSent) {
      const w = this.plateau;
      const v = this.value(w.config.metric, c, w.config.smoothing);
      if (v !== null) w.patience.observe(v, last);
      if (w.patience.exhausted()) {
        this.plateauSent = true;
        this.ctx.alerter?.send(
          this.run,
          "PLATEAU",
          `${w.config.metric} has not improved by more than ${w.config.minDelta} for ${w.config.patience} evaluations (best ${w.patience.best} at step ${w.patience.bestStep})`,
          last,
        );
      }
    }
    if (this.early) {
      const w = this.early;
      const v = this.value(w.config.metric, c, w.config.smoothing);
      if (v !== null && w.patience.observe(v, last) && cp) {
        // The best state so far is kept; export uses it (Run.bestStep).
        await this.ctx.db.saveCheckpoint(runId, cp);
        this.bestStep = last;
        await this.ctx.db.updateRun(runId, { bestStep: last });
      }
      if (w.patience.exhausted() && end < this.run.totalSteps)
        return {
          reason: `early stopping: ${w.config.metric} did not improve by more than ${w.config.minDelta} in ${w.config.patience} evaluations (best ${w.patience.best?.toPrecision(6)} at step ${w.patience.bestStep})`,
          lastStep: last,
          checkpoint: cp,
        };
    }
    if (this.asha && end < this.run.totalSteps) {
      const a = this.asha.config;
      const verdict = await this.asha.reached(end, this.value(a.metric, c, a.smoothing));
      if (verdict?.reason) return { reason: verdict.reason, lastStep: last, checkpoint: cp };
    }
    return null;
  }
}
