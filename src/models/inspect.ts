// Model admission: what every model goes through before it becomes a Model row, whoever brings it
// (an upload through registerModel, a built-in file registered at start or on first use). The file is
// parsed, every unsupported op is listed (not just the first), and it is compiled, which is what proves
// its shapes. The description is the same for every source: opSummary counts the FORWARD graph's nodes
// by op type (what the user wrote), never the compiled training graph's ops.
import { createHash } from "node:crypto";
import type { Db, ModelInput } from "../db/index.ts";
import { UnsupportedModelError, ValidationError } from "../errors.ts";
import { compile } from "../graph/compile.ts";
import { decodeModel } from "../graph/onnx.ts";
import { OPS } from "../graph/ops/index.ts";
import { UPLOAD_NAME } from "../train/data/files.ts";
import { inspectOffThread } from "./compile-thread.ts";

export type ModelDescription = Omit<ModelInput, "name" | "source" | "onnx" | "path">;

export interface ModelLimits {
  /** MAX_UPLOAD_BYTES */
  maxUploadBytes: number;
  /** MAX_MODEL_NODES: nodes are counted before compiling (compile time grows with them). */
  maxModelNodes: number;
  /** MAX_MODEL_PARAMETERS */
  maxModelParameters: number;
  /** MAX_BATCH_ELEMENTS: one sample must fit in a batch of one. */
  maxBatchElements: number;
}

type Decoded = ReturnType<typeof decodeModel>;

function decode(bytes: Uint8Array): Decoded {
  try {
    return decodeModel(bytes);
  } catch (err) {
    throw new ValidationError(
      "file",
      `the file is not a readable ONNX model (${err instanceof Error ? err.message : String(err)}); upload a ModelProto as written by torch.onnx.export or onnx.save`,
    );
  }
}

function describe(bytes: Uint8Array, model: Decoded): ModelDescription {
  const opSummary: Record<string, number> = {};
  // Every unsupported op, each with the nodes that use it, so one answer lists all the work to do.
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
    throw new UnsupportedModelError(
      `unsupported ops: ${named.join(", ")}; supported ops: ${Object.keys(OPS).sort().join(", ")}`,
      ops,
    );
  }
  let compiled: ReturnType<typeof compile>;
  try {
    compiled = compile(bytes, { optimizer: { kind: "sgd" } });
  } catch (err) {
    throw new UnsupportedModelError(err instanceof Error ? err.message : String(err), []);
  }
  return {
    contentHash: createHash("sha256").update(bytes).digest("hex"),
    inputShape: compiled.input.shape,
    classes: compiled.classes,
    parameterCount: compiled.parameterCount,
    opSummary,
  };
}

/**
 * Parses and compiles an ONNX forward model. Throws ValidationError("file") when the bytes are not an
 * ONNX model or have more than `maxNodes` nodes (counted before compiling: compile time grows with
 * them), UnsupportedModelError listing every unsupported op or naming the shape problem.
 * Synchronous and CPU-bound (a large model takes hundreds of ms): the server calls it through
 * compile-thread.ts, off its event loop.
 */
export function inspectModel(
  bytes: Uint8Array,
  maxNodes = Number.POSITIVE_INFINITY,
  maxSampleElements = Number.POSITIVE_INFINITY,
): ModelDescription {
  const model = decode(bytes);
  const nodes = model.graph.nodes.length;
  if (nodes > maxNodes)
    throw new ValidationError(
      "file",
      `the model has ${nodes} nodes; the limit is ${maxNodes} (MAX_MODEL_NODES)`,
    );
  // One sample must fit in a batch of one, checked on the declared input before compiling: the compiler
  // builds tables sized by the image (an im2col index per output position), and an absurd declared
  // size must be refused here, not allocated.
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((v) => !inits.has(v.name));
  const dims = inputs.length === 1 ? (inputs[0].shape ?? []).slice(1) : [];
  if (dims.length > 0 && dims.every((d) => typeof d === "number" && d > 0))
    refuseOversizedSample(dims as number[], maxSampleElements);
  const described = describe(bytes, model);
  refuseOversizedSample(described.inputShape, maxSampleElements);
  return described;
}

function refuseOversizedSample(shape: number[], maxBatchElements: number): void {
  const sampleElements = shape.reduce((a, b) => a * b, 1);
  if (sampleElements > maxBatchElements)
    throw new ValidationError(
      "file",
      `one input sample of shape [${shape}] has ${sampleElements} elements; batchSize × input size may be at most ${maxBatchElements} (MAX_BATCH_ELEMENTS)`,
    );
}

/** Refuses a bad upload name or a file over MAX_UPLOAD_BYTES (models and data files alike). */
export function checkUpload(name: string, size: number, maxBytes: number): void {
  if (!UPLOAD_NAME.test(name))
    throw new ValidationError(
      "name",
      `name must be 1–100 characters of letters, digits, "_", "." or "-", starting with a letter or digit; got ${JSON.stringify(name.slice(0, 120))}`,
    );
  if (size > maxBytes)
    throw new ValidationError(
      "file",
      `file is ${size} bytes; the upload limit is ${maxBytes} bytes (MAX_UPLOAD_BYTES)`,
    );
}

/** Validates an upload (name, size, node and parameter counts), reading it only after the cheap checks. */
export async function admitModel(
  db: Db,
  limits: ModelLimits,
  upload: { name: string; size: number; read: () => Promise<Uint8Array> },
): Promise<ModelDescription & { onnx: Uint8Array }> {
  const { name, size } = upload;
  checkUpload(name, size, limits.maxUploadBytes);
  if (await db.findModelByName(name))
    throw new ValidationError("name", `a model named "${name}" already exists; choose another name`);
  const bytes = await upload.read();
  const described = await inspectOffThread(bytes, limits.maxModelNodes, limits.maxBatchElements);
  if (described.parameterCount > limits.maxModelParameters)
    throw new ValidationError(
      "file",
      `the model has ${described.parameterCount} parameters; the limit is ${limits.maxModelParameters} (MAX_MODEL_PARAMETERS)`,
    );
  return { ...described, onnx: bytes };
}
