// What the server registers at start: the built-in models (models/*.onnx, inspected as uploads are by
// src/models/inspect.ts) and the named datasets (src/train/data DATASETS).
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Db, JsonObject } from "../db/index.ts";
import { ModelSource } from "../db/index.ts";
import { inspectOffThread } from "../models/compile-thread.ts";
import { DATASETS, knownSize } from "../train/data/spec.ts";

export interface Registered {
  models: string[];
  datasets: string[];
}

/** Registers models/*.onnx and the named datasets that are not registered yet (by name). */
export async function registerBuiltins(db: Db, modelsDir: string): Promise<Registered> {
  const models: string[] = [];
  for (const file of readdirSync(modelsDir)
    .filter((f) => f.endsWith(".onnx"))
    .sort()) {
    const name = basename(file, ".onnx");
    if (await db.findModelByName(name)) continue;
    const bytes = new Uint8Array(readFileSync(join(modelsDir, file)));
    await db.createModel({
      name,
      source: ModelSource.BUILTIN,
      onnx: bytes,
      ...(await inspectOffThread(bytes)),
    });
    models.push(name);
  }
  const datasets: string[] = [];
  for (const [name, spec] of Object.entries(DATASETS)) {
    const size = knownSize(spec);
    // File-backed datasets (e.g. fashion-mnist) are registered when a run first uses them.
    if (!size || (await db.findDatasetByName(name))) continue;
    await db.createDataset({
      name,
      kind: spec.kind,
      parameters: JSON.parse(JSON.stringify(spec)) as JsonObject,
      inputShape: size.shape,
      classes: size.classes,
      trainSize: size.samples,
      valSize: 0,
    });
    datasets.push(name);
  }
  return { models, datasets };
}
