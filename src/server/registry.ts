// What the server registers and how it judges an uploaded model: the built-in models (models/*.onnx),
// the named datasets (src/train/data DATASETS), and the inspection every uploaded ONNX file goes
// through (parse, supported ops, compile) before it is stored.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Db, JsonObject, ModelInput } from "../db/index.ts";
import { ModelSource } from "../db/index.ts";
import { compile } from "../graph/compile.ts";
import { decodeModel } from "../graph/onnx.ts";
import { OPS } from "../graph/ops/index.ts";
import { DATASETS, knownSize } from "../train/data/spec.ts";

export class ModelInspectionError extends Error {
  override name = "ModelInspectionError";
  constructor(
    message: string,
    /** Unsupported op types ([] when the file is malformed or its shapes are wrong). */
    readonly ops: string[],
    /** true when the bytes are not an ONNX model at all. */
    readonly malformed: boolean,
  ) {
    super(message);
  }
}

export type InspectedModel = Omit<ModelInput, "name" | "source" | "onnx" | "path">;

/**
 * Parses and compiles an ONNX forward model. Throws ModelInspectionError listing every unsupported op
 * (not just the first), or naming the shape/structure problem the compiler found.
 */
export function inspectModel(bytes: Uint8Array): InspectedModel {
  let model: ReturnType<typeof decodeModel>;
  try {
    model = decodeModel(bytes);
  } catch (err) {
    throw new ModelInspectionError(
      `the file is not a readable ONNX model (${err instanceof Error ? err.message : String(err)}); upload a ModelProto as written by torch.onnx.export or onnx.save`,
      [],
      true,
    );
  }
  const opSummary: Record<string, number> = {};
  const unsupported = new Map<string, string[]>();
  for (const n of model.graph.nodes) {
    const standard = n.domain === "" || n.domain === "ai.onnx";
    const op = standard ? n.op : `${n.domain}.${n.op}`;
    opSummary[op] = (opSummary[op] ?? 0) + 1;
    if (!standard || !Object.hasOwn(OPS, n.op)) unsupported.set(op, [...(unsupported.get(op) ?? []), n.name]);
  }
  if (unsupported.size > 0) {
    const ops = [...unsupported.keys()].sort();
    const named = ops.map(
      (op) => `${op} (${(unsupported.get(op) ?? []).map((n) => `node "${n}"`).join(", ")})`,
    );
    throw new ModelInspectionError(
      `unsupported ops: ${named.join(", ")}; supported ops: ${Object.keys(OPS).sort().join(", ")}`,
      ops,
      false,
    );
  }
  let compiled: ReturnType<typeof compile>;
  try {
    compiled = compile(bytes, { optimizer: { kind: "sgd" } });
  } catch (err) {
    throw new ModelInspectionError(err instanceof Error ? err.message : String(err), [], false);
  }
  return {
    contentHash: createHash("sha256").update(bytes).digest("hex"),
    inputShape: compiled.input.shape,
    classes: compiled.classes,
    parameterCount: compiled.parameterCount,
    opSummary,
  };
}

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
    await db.createModel({ name, source: ModelSource.BUILTIN, onnx: bytes, ...inspectModel(bytes) });
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
