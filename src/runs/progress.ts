// Progress of a run: live from the chunks of a run training in this process (step, epoch, a rate over
// the last 20 chunks and the ETA it implies), or from the Run row's counters otherwise.
import { type Run, RunStatus } from "../db/index.ts";
import type { RunProgress } from "./types.ts";

export type StopReason = "cancel" | "delete" | "shutdown";

/** A run training in this process. */
export interface ActiveRun {
  controller: AbortController;
  /** Why it is being stopped (the first reason wins); null while it trains. */
  reason: StopReason | null;
  done: Promise<void>;
  /** The trainer's process id while it runs in a child process (fault tests, diagnostics). */
  pid: number | null;
  /** Steps completed so far, for progress. */
  step: number;
  totalSteps: number;
  epoch: number;
  /** (time ms, steps completed, samples seen) of recent chunks, for the rate. */
  window: { t: number; step: number; samples: number }[];
}

export function newActiveRun(): ActiveRun {
  return {
    controller: new AbortController(),
    reason: null,
    done: Promise.resolve(),
    pid: null,
    step: 0,
    totalSteps: 0,
    epoch: 0,
    window: [],
  };
}

/** Records a persisted chunk whose last row is `last`. */
export function recordChunk(a: ActiveRun, last: { step: number; epoch: number; samples: number }): void {
  a.step = last.step + 1;
  a.epoch = last.epoch;
  a.window.push({ t: performance.now(), step: a.step, samples: last.samples });
  if (a.window.length > 20) a.window.shift();
}

export function liveProgress(a: ActiveRun): RunProgress {
  const w = a.window;
  let samplesPerSecond: number | null = null;
  let etaSeconds: number | null = null;
  if (w.length >= 2) {
    const dt = (w[w.length - 1].t - w[0].t) / 1000;
    const ds = w[w.length - 1].step - w[0].step;
    if (dt > 0 && ds > 0) {
      samplesPerSecond = (w[w.length - 1].samples - w[0].samples) / dt;
      etaSeconds = ((a.totalSteps - a.step) * dt) / ds;
    }
  }
  return { step: a.step, totalSteps: a.totalSteps, epoch: a.epoch, samplesPerSecond, etaSeconds };
}

export function storedProgress(run: Run): RunProgress {
  return {
    step: run.stepsCompleted,
    totalSteps: run.totalSteps,
    epoch: run.epochsCompleted,
    samplesPerSecond: null,
    etaSeconds: run.status === RunStatus.COMPLETED ? 0 : null,
  };
}
