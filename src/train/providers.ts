// Which onnxruntime execution providers this machine can really use. A provider counts as available
// only when a tiny session (one Add) can be created and run on it, because onnxruntime-node's binary
// lists CUDA and WebGPU whether or not their libraries and drivers are present. The answer is cached
// per process (it does not change while the process runs). GPU providers are probed in a child
// process (provider-probe.cjs): a failed Dawn/Vulkan load was seen to abort the process outright.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ValidationError } from "../errors.ts";
import { encodeModel } from "../graph/onnx.ts";
import { PROVIDERS, type Provider } from "./config.ts";
import { createSession, ORT_PROVIDER } from "./session.ts";

export interface ProviderStatus {
  name: Provider;
  available: boolean;
  /** Why it is unavailable and how to make it available; null when available. */
  reason: string | null;
}

const HINTS: Record<Provider, string> = {
  CPU: "the CPU provider is built into onnxruntime-node; reinstall onnxruntime-node",
  CUDA:
    "install onnxruntime-node's CUDA provider with `npm install --onnxruntime-node-install=cuda12` " +
    "on a machine with an NVIDIA GPU, CUDA 12 and cuDNN 9",
  WEBGPU:
    "WebGPU (Dawn over Vulkan) needs a GPU with a Vulkan driver (libvulkan1 and the vendor's ICD); " +
    "software Vulkan such as Mesa lavapipe is rejected",
};

/** y = x + x on a [1, 4] float tensor. */
function probeModel(): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsets: [{ domain: "", version: 17 }],
    producer: "gradstream-probe",
    graph: {
      name: "probe",
      nodes: [{ op: "Add", name: "add", domain: "", inputs: ["x", "x"], outputs: ["y"], attrs: {} }],
      inputs: [{ name: "x", dtype: "float32", shape: [1, 4] }],
      outputs: [{ name: "y", dtype: "float32", shape: [1, 4] }],
      initializers: [],
    },
  });
}

const PROBE_SCRIPT = fileURLToPath(new URL("./provider-probe.cjs", import.meta.url));

/** Runs the probe in this process (CPU: always safe) and rejects with onnxruntime's message. */
async function probeHere(name: Provider): Promise<void> {
  const s = await createSession(probeModel(), { provider: name, intraOpThreads: 1, quiet: true });
  try {
    const out = await s.run({ x: { dims: [1, 4], data: Float32Array.of(1, 2, 3, 4) } });
    const y = out.y.data as Float32Array;
    if (y[3] !== 8) throw new Error(`the probe computed ${y[3]} instead of 8`);
  } finally {
    await s.release();
  }
}

/** Runs the probe in a child process, so a provider that aborts takes only the child down. */
function probeInChild(name: Provider): Promise<void> {
  const model = Buffer.from(probeModel()).toString("base64");
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [PROBE_SCRIPT, ORT_PROVIDER[name], model],
      { timeout: 60_000 },
      (err, stdout) => {
        try {
          const r = JSON.parse(stdout) as { ok: boolean; error?: string };
          if (r.ok) resolve();
          else reject(new Error(r.error ?? "the probe failed"));
        } catch {
          const how =
            err && "signal" in err && err.signal ? `signal ${err.signal}` : `exit code ${err?.code}`;
          reject(new Error(`the probe process ended without an answer (${how})`));
        }
      },
    );
  });
}

async function probe(name: Provider): Promise<ProviderStatus> {
  try {
    await (name === "CPU" ? probeHere(name) : probeInChild(name));
    return { name, available: true, reason: null };
  } catch (err) {
    // onnxruntime prefixes its source location and the failed check; keep what a person can act on.
    const first = (err instanceof Error ? err.message : String(err))
      .split("\n")[0]
      .replace(/^.*? was false\. /, "")
      .trim()
      .slice(0, 200);
    return { name, available: false, reason: `${name} is not usable here (${first}); ${HINTS[name]}` };
  }
}

let cached: Promise<ProviderStatus[]> | null = null;

/** Every provider with its availability, probed once per process (in order, so logs stay readable). */
export function detectProviders(): Promise<ProviderStatus[]> {
  cached ??= (async () => {
    const out: ProviderStatus[] = [];
    for (const p of PROVIDERS) out.push(await probe(p));
    return out;
  })();
  return cached;
}

/** The requested execution provider is not usable here; the message says how to install it. */
export class ProviderUnavailableError extends ValidationError {
  override name = "ProviderUnavailableError";
  constructor(message: string) {
    super("provider", message);
  }
}

/** Resolves when `name` is usable, else rejects with its reason and install hint. */
export async function requireProvider(name: Provider): Promise<void> {
  const status = (await detectProviders()).find((p) => p.name === name);
  if (!status)
    throw new ProviderUnavailableError(
      `unknown execution provider "${name}"; accepted: ${PROVIDERS.join(", ")}`,
    );
  if (!status.available) throw new ProviderUnavailableError(status.reason ?? `${name} is not available`);
}
