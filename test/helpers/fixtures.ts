// Row builders shared by the tests (and the db crash child): one makeRun, deterministic batch rows.
import { type Db, ModelSource, type Run, type TrainedRow } from "../../src/db/index.ts";
import { mulberry32 } from "../../src/train/data/prng.ts";

/** The built-in models the server registers from models/, sorted by name (one list for every test). */
export const BUILTIN_MODEL_NAMES = [
  "cnn",
  "linear",
  "mnist-cnn",
  "mnist-mlp",
  "rnn-mnist",
  "transformer-char",
];

let counter = 0;

/**
 * A QUEUED run row. On a database with the built-ins registered it is a run of model "linear" on
 * dataset "linear"; on a bare one it gets a fresh placeholder model and dataset of its own.
 */
export async function makeRun(db: Db, opts: { totalSteps?: number; tags?: string[] } = {}): Promise<Run> {
  const builtin = await db.findModelByName("linear");
  const builtinData = await db.findDatasetByName("linear");
  const { modelId, datasetId } =
    builtin && builtinData ? { modelId: builtin.id, datasetId: builtinData.id } : await placeholders(db);
  return db.createRun({
    name: "test run",
    modelId,
    datasetId,
    hyperparameters: { optimizer: { kind: "sgd", lr: 0.01 }, batchSize: 10, epochs: 10 },
    seed: 0,
    stepsPerChunk: 10,
    totalSteps: opts.totalSteps ?? 100,
    tags: opts.tags ?? [],
  });
}

async function placeholders(db: Db): Promise<{ modelId: number; datasetId: number }> {
  counter++;
  const tag = `${process.pid}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
  const model = await db.createModel({
    name: `linear-${tag}`,
    source: ModelSource.BUILTIN,
    onnx: new Uint8Array([8, 7, 0]),
    contentHash: "0".repeat(64),
    inputShape: [10],
    classes: 2,
    parameterCount: 22,
    opSummary: { Gemm: 1 },
  });
  const dataset = await db.createDataset({
    name: `gaussian-${tag}`,
    kind: "gaussian",
    parameters: { samples: 100, features: 10 },
    inputShape: [10],
    classes: 2,
    trainSize: 100,
    valSize: 0,
  });
  return { modelId: model.id, datasetId: dataset.id };
}

/** Deterministic pseudo-random rows (mulberry32), so a failing case can be replayed. */
export function makeRows(fromStep: number, count: number, seed = 1): TrainedRow[] {
  const rand = mulberry32(seed);
  const rows: TrainedRow[] = [];
  for (let i = 0; i < count; i++) {
    const step = fromStep + i;
    rows.push({
      step,
      epoch: Math.floor(step / 100),
      batch: step % 100,
      loss: 2 * rand() + 1 / (1 + step / 1000),
      accuracy: Math.round(rand() * 10) / 10,
      lr: 0.01,
      gradNorm: rand() * 5,
      confidence: 0.5 + rand() / 2,
      trueClassProb: rand(),
      samples: 10,
      timeMs: rand(),
    });
  }
  return rows;
}
