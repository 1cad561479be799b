// The compile thread (see compile-thread.ts): inspects uploads and builds exported inference models,
// the compiler's CPU-heavy calls that the server must not make on its event loop, and sizes file datasets.
import { parentPort } from "node:worker_threads";
import { UnsupportedModelError, ValidationError } from "../errors.ts";
import { compile } from "../graph/compile.ts";
import { describeDataset } from "../train/catalog.ts";
import type { CompileReply, CompileRequest } from "./compile-thread.ts";
import { inspectModel } from "./inspect.ts";

const port = parentPort;
if (!port) throw new Error("compile-worker.ts must run in a worker thread");

function work(r: CompileRequest): unknown {
  if (r.kind === "inspect") return inspectModel(r.bytes, r.maxNodes, r.maxSampleElements);
  if (r.kind === "describe") return describeDataset(r.spec, r.fraction);
  const compiled = compile(r.bytes, r.options);
  const trained: Record<string, Float32Array> = {};
  for (const t of compiled.tensors) if (t.role !== "optimizer") trained[t.name] = r.tensors[t.name];
  return compiled.exportInference(trained);
}

port.on("message", (r: CompileRequest) => {
  let reply: CompileReply;
  try {
    reply = { id: r.id, ok: true, value: work(r) };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    reply = {
      id: r.id,
      ok: false,
      error: {
        name: e.name,
        message: e.message,
        field: err instanceof ValidationError ? err.field : undefined,
        ops: err instanceof UnsupportedModelError ? err.ops : undefined,
      },
    };
  }
  port.postMessage(reply);
});
