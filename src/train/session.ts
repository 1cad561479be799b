// The thin onnxruntime-node wrapper: create a session from model bytes, run it. Nothing else.
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";

export type HostData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface HostTensor {
  dims: number[];
  data: HostData;
  /** Only needed for bool tensors (stored as Uint8Array). */
  bool?: boolean;
}

/** onnxruntime-node's execution provider names for the providers a run config accepts. */
export const ORT_PROVIDER = { CPU: "cpu", CUDA: "cuda", WEBGPU: "webgpu" } as const;

export interface SessionOptions {
  /** Default CPU. */
  provider?: keyof typeof ORT_PROVIDER;
  /** Default: every core this process may use (os.availableParallelism()), never onnxruntime's own choice. */
  intraOpThreads?: number;
  /**
   * false stops idle intra-op threads from spin-waiting for work (they burn a core each otherwise,
   * which starves other runs and the event loop when sessions share cores). When allowed, they spin
   * only while a run is in progress (session.force_spinning_stop).
   */
  allowSpinning?: boolean;
  /** Only fatal onnxruntime log lines (provider probes fail on purpose). */
  quiet?: boolean;
  /**
   * onnxruntime's graph optimization level (default "all"). "extended" skips the NCHWc layout
   * rewrite: for the seed CNN's training Loop it measured ~7% less CPU per step single-threaded.
   */
  optimization?: "basic" | "extended" | "all";
  /** Writes an onnxruntime JSON profile with this file prefix (for benchmarks). */
  profilePrefix?: string;
}

export interface Session {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  /** Ends profiling (when enabled) and returns the profile file name. */
  endProfiling(): string | undefined;
  release(): Promise<void>;
}

function typeOf(t: HostTensor): "float32" | "float64" | "int64" | "int32" | "bool" | "uint8" {
  if (t.data instanceof Float32Array) return "float32";
  if (t.data instanceof Float64Array) return "float64";
  if (t.data instanceof BigInt64Array) return "int64";
  if (t.data instanceof Int32Array) return "int32";
  return t.bool ? "bool" : "uint8";
}

/** Intra-op threads when a caller names none: every core this process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

export async function createSession(model: Uint8Array, opts: SessionOptions = {}): Promise<Session> {
  const s = await ort.InferenceSession.create(model, {
    executionProviders: [ORT_PROVIDER[opts.provider ?? "CPU"]],
    graphOptimizationLevel: opts.optimization ?? "all",
    logSeverityLevel: opts.quiet ? 4 : 3,
    // Always an explicit count: onnxruntime's default (0, "every physical core") ran one intra-op
    // thread on a 2-core VM, whose seed-CNN Loop then did 160 steps/s against 244 with 2 threads.
    intraOpNumThreads: opts.intraOpThreads || defaultThreads(),
    // Spinning threads spin between the ops of a run, and stop when the run returns: what the trainer
    // does between chunks (the next chunk's batches, rows, frames to the server) and the server itself
    // then get the cores. With the spin left running, an API run of the seed CNN spent 0.84–1.20 s of
    // a ~9 s training phase outside session.run; stopped, 0.70–0.73 s (session.run time unchanged).
    extra: {
      session:
        opts.allowSpinning === false ? { intra_op: { allow_spinning: "0" } } : { force_spinning_stop: "1" },
    },
    ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
  });
  return {
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(typeOf(v), v.data, v.dims);
      const out = await s.run(ortFeeds);
      const result: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(out)) {
        result[k] = { dims: [...v.dims], data: v.data as HostData, bool: v.type === "bool" };
      }
      return result;
    },
    endProfiling() {
      if (!opts.profilePrefix) return undefined;
      s.endProfiling();
      return opts.profilePrefix;
    },
    release: () => s.release(),
  };
}
