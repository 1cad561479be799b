// The compiler off the event loop: parsing and compiling a model takes ~20–200 ms (more for a large
// upload), and exporting a trained model compiles it again. One worker thread, started on first use,
// does both, and also sizes file-backed datasets for admission (reading and decoding Fashion-MNIST's
// files took 1.3–2.3 s, which held every request and subscriber of the server). Its errors come back
// as the same classes (ValidationError with its field, UnsupportedModelError with its ops), so callers
// cannot tell it from a direct call.
import { Worker } from "node:worker_threads";
import { UnsupportedModelError, ValidationError } from "../errors.ts";
import type { CompileOptions } from "../graph/compile.ts";
import type { DatasetDescription } from "../train/catalog.ts";
import type { DatasetSpec } from "../train/data/index.ts";
import { tsWorkerSource } from "../worker-bootstrap.ts";
import type { ModelDescription } from "./inspect.ts";

type Request =
  | { kind: "inspect"; bytes: Uint8Array; maxNodes: number; maxSampleElements: number }
  | { kind: "export"; bytes: Uint8Array; options: CompileOptions; tensors: Record<string, Float32Array> }
  | { kind: "describe"; spec: DatasetSpec; fraction: number };

export type CompileRequest = Request & { id: number };

export type CompileReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; field?: string; ops?: string[] } };

type Pending = { resolve(v: unknown): void; reject(e: Error): void };
let worker: { w: Worker; pending: Map<number, Pending> } | null = null;
let nextId = 0;

function revive(e: { name: string; message: string; field?: string; ops?: string[] }): Error {
  if (e.name === "ValidationError") return new ValidationError(e.field ?? "file", e.message);
  if (e.name === "UnsupportedModelError") return new UnsupportedModelError(e.message, e.ops ?? []);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

function theWorker(): NonNullable<typeof worker> {
  if (worker) return worker;
  const w = new Worker(tsWorkerSource(new URL("./compile-worker.ts", import.meta.url)), { eval: true });
  const pending = new Map<number, Pending>();
  const me = { w, pending };
  worker = me;
  // Idle, the thread keeps nothing alive; a pending call refs it (see call()).
  w.unref();
  w.on("message", (reply: CompileReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (pending.size === 0) w.unref();
    if (reply.ok) p.resolve(reply.value);
    else p.reject(revive(reply.error));
  });
  const fail = (err: Error) => {
    if (worker === me) worker = null;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on("error", fail);
  w.on("exit", (code) => fail(new Error(`the compile thread exited (code ${code})`)));
  return me;
}

function call<T>(request: Request): Promise<T> {
  const t = theWorker();
  const id = nextId++;
  const result = new Promise<T>((resolve, reject) => {
    t.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
  });
  t.w.ref();
  // Queued by the worker's port until its module has loaded and listens.
  t.w.postMessage({ ...request, id });
  return result;
}

/** inspectModel (inspect.ts) in the compile thread. */
export function inspectOffThread(
  bytes: Uint8Array,
  maxNodes = Number.POSITIVE_INFINITY,
  maxSampleElements = Number.POSITIVE_INFINITY,
): Promise<ModelDescription> {
  return call<ModelDescription>({ kind: "inspect", bytes, maxNodes, maxSampleElements });
}

/** The inference ONNX model of a compiled model with the given trained tensors, built in the compile thread. */
export function exportOffThread(
  bytes: Uint8Array,
  options: CompileOptions,
  tensors: Record<string, Float32Array>,
): Promise<Uint8Array> {
  return call<Uint8Array>({ kind: "export", bytes, options, tensors });
}

/** describeDataset (train/catalog.ts) in the compile thread: file datasets are read and decoded there. */
export function describeOffThread(spec: DatasetSpec, fraction: number): Promise<DatasetDescription> {
  return call<DatasetDescription>({ kind: "describe", spec, fraction });
}
