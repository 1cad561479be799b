// The run lifecycle's contract with the GraphQL layer: what the schema calls and what it streams.
// src/runs/manager.ts implements it (admission, queue, start/cancel/resume, persist-then-publish);
// src/schema/ only calls it. Ids are the database's integer ids.
import type { BatchRow, EpochRow, Run, RunStatus, SystemRow } from "../db/index.ts";
import type { ValidationRow } from "../db/learning.ts";
import type { AdmittedRun } from "./admission.ts";
import type { AlertLog } from "./alerts.ts";
import type { StepChunk } from "./stream.ts";

/** One event per persisted runner chunk (K batches in step order), never one per batch. */
export interface BatchChunkEvent extends StepChunk<BatchRow> {
  runId: number;
  /** System metrics of the chunks that ended within these rows (absent: none, e.g. EXTERNAL runs). */
  system?: SystemRow[];
}

export type RunEvent =
  | { kind: "status"; runId: number; status: RunStatus; error: string | null; at: Date }
  | { kind: "epoch"; runId: number; epoch: EpochRow }
  | { kind: "validation"; runId: number; validation: ValidationRow }
  | { kind: "alert"; runId: number; alert: AlertLog };

export interface RunsChangedEvent {
  kind: "created" | "started" | "finished" | "deleted";
  runId: number;
  status: RunStatus | null;
}

export interface StartRunInput {
  name?: string;
  modelId: number;
  /** A dataset row id, or a dataset spec / spec string (src/train/data/spec.ts) registered on the fly. */
  dataset: { id: number | string } | { spec: unknown };
  /** Untrusted; validated by validateRunConfig (src/train/config.ts), errors name the field. */
  config: unknown;
  tags?: string[];
  /** Untrusted early-stopping settings (src/runs/watch.ts validateWatch); absent: none. */
  earlyStopping?: unknown;
  /** Untrusted alert settings (src/runs/alerts.ts validateRunAlerts); absent: none. */
  alerts?: unknown;
  /** Set by src/runs/sweep.ts: the sweep this run is a trial of. */
  sweepId?: number;
}

export interface ProviderInfo {
  name: "CPU" | "CUDA" | "WEBGPU";
  available: boolean;
  /** Why it is unavailable and how to install it; null when available. */
  reason: string | null;
}

export interface RunProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  samplesPerSecond: number | null;
  etaSeconds: number | null;
}

export interface RunManager {
  /** Validates a start request fully (src/runs/admission.ts) without creating anything. */
  admit(input: StartRunInput): Promise<AdmittedRun>;
  /** Creates the run QUEUED and enqueues it; resolves with the QUEUED row. */
  start(input: StartRunInput): Promise<Run>;
  /** Starts every run of a named experiment (src/train/config.ts EXPERIMENTS); batch-size starts two. */
  startExperiment(name: string): Promise<Run[]>;
  cancel(runId: number): Promise<Run>;
  /** Resumes an INTERRUPTED, CANCELLED or FAILED run from its latest checkpoint, same step numbering. */
  resume(runId: number): Promise<Run>;
  delete(runId: number): Promise<boolean>;
  /** The trained inference ONNX (original forward graph with the latest checkpoint's weights). */
  exportModel(runId: number): Promise<Uint8Array>;
  /** Replays persisted chunks after `afterStep`, then live; completes after the final chunk. */
  batches(runId: number, afterStep: number): AsyncIterableIterator<BatchChunkEvent>;
  runEvents(runId: number): AsyncIterableIterator<RunEvent>;
  runsChanged(): AsyncIterableIterator<RunsChangedEvent>;
  progress(runId: number): Promise<RunProgress>;
  providers(): Promise<ProviderInfo[]>;
  /** Graceful shutdown: in-flight runs are checkpointed and left INTERRUPTED, subscriptions completed. */
  close(): Promise<void>;
}
