// Shapes shared by the write path, the read path and the layers above src/db/.

/**
 * One training step's row. The runner fills every metric; an EXTERNAL run's trainer may leave any of
 * them out (null). `custom` carries the step's named custom metrics when the run has any.
 */
export interface BatchRow {
  step: number;
  epoch: number;
  batch: number;
  loss: number | null;
  accuracy: number | null;
  lr: number | null;
  gradNorm: number | null;
  confidence: number | null;
  trueClassProb: number | null;
  samples: number;
  timeMs: number;
  custom?: Record<string, number>;
}

/** A row as gradstream's own trainer produces it: every metric present. */
export interface TrainedRow extends BatchRow {
  loss: number;
  accuracy: number;
  lr: number;
  gradNorm: number;
  confidence: number;
  trueClassProb: number;
}

/** One custom metric value: a named scalar at a step (CustomMetric). */
export interface CustomValue {
  step: number;
  name: string;
  value: number;
}

/** The per-step metrics that rollups aggregate and history can return. */
export const METRICS = ["loss", "accuracy", "lr", "gradNorm", "confidence", "trueClassProb"] as const;
export type Metric = (typeof METRICS)[number];

/** Integer columns of a BatchRow; the rest are finite floats. */
export const INT_FIELDS = ["step", "epoch", "batch", "samples"] as const;
export const FLOAT_FIELDS = [...METRICS, "timeMs"] as const;
export const ROW_FIELDS = [...INT_FIELDS, ...FLOAT_FIELDS] as const;

export interface MetricStats {
  min: number;
  max: number;
  mean: number;
  /** The mean after the API's smoothing (set by the GraphQL layer; absent from the store). */
  smoothed?: number;
}

export interface HistoryBucket {
  firstStep: number;
  lastStep: number;
  /** Rows in the bucket (steps present within [firstStep, lastStep]). */
  count: number;
  values: Partial<Record<Metric, MetricStats>>;
  /** Custom metrics requested by name that have values in the bucket. */
  custom: Record<string, MetricStats>;
}

export interface HistoryOptions {
  metrics: readonly Metric[];
  /** Custom metric names (CustomMetric) to downsample alongside. */
  custom?: readonly string[];
  fromStep?: number;
  toStep?: number;
  /** Upper bound on the number of buckets returned (≥ 1). */
  maxPoints: number;
}

export interface History {
  /** Steps covered by bucket i: [floor(firstStep / bucketWidth) · bucketWidth, … + bucketWidth − 1] ∩ range. */
  bucketWidth: number;
  /** The stored resolution the buckets were built from: 1 (raw rows) or a rollup width. */
  sourceLevel: number;
  buckets: HistoryBucket[];
  /** The raw rows at the first and last step in the range (null when the range is empty). */
  first: BatchRow | null;
  last: BatchRow | null;
}

export interface BatchPage {
  rows: BatchRow[];
  hasNextPage: boolean;
  /** The step to pass as `afterStep` for the next page (null when the page is empty). */
  endStep: number | null;
}

export interface EpochRow {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  batches: number;
  timeMs: number;
}

export interface CheckpointRow {
  step: number;
  epoch: number;
  state: Uint8Array;
  createdAt: Date;
}

/** Raw SQL access that both stores provide; integers are inlined after validation (see sql.ts). */
export interface Store {
  readonly dialect: "sqlite" | "postgresql";
  /** Names of the migrations this open applied (empty when the database was up to date). */
  readonly applied: readonly string[];
  /**
   * Inserts the rows that are new (by step) and the custom values that are new (by step and name),
   * updates rollups and run progress in one transaction.
   */
  writeChunk(runId: number, rows: readonly BatchRow[], custom?: readonly CustomValue[]): Promise<number>;
  all<T>(sql: string): Promise<T[]>;
  /** Deletes the run and everything that belongs to it in one transaction; false if it did not exist. */
  deleteRun(runId: number): Promise<boolean>;
  /**
   * Upserts a checkpoint (the same (run, step) again replaces its state), off the event loop: the
   * SQLite writer thread or a pg query, not Prisma, whose serialization of a few MB of state blocked
   * the main thread 0.5–1 s. Rejects with "unknown run id N" when the run does not exist.
   */
  saveCheckpoint(runId: number, step: number, epoch: number, state: Uint8Array): Promise<void>;
  /** Whether a write would find room now (after a full disk): free pages and free bytes on the disk. */
  hasRoom(): Promise<boolean>;
  close(): Promise<void>;
}
