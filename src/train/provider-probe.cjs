// Child process for src/train/providers.ts: creates and runs a one-Add session on one execution
// provider and prints {"ok":true} or {"ok":false,"error":…}. GPU providers are probed here, not in
// the server's process, because a failing Dawn/Vulkan or CUDA load can abort the whole process
// ("terminate called after throwing an instance of 'Napi::Error'") instead of throwing.
const ort = require("onnxruntime-node");

const [provider, modelBase64] = process.argv.slice(2);

async function main() {
  const session = await ort.InferenceSession.create(Buffer.from(modelBase64, "base64"), {
    executionProviders: [provider],
    intraOpNumThreads: 1,
    logSeverityLevel: 4,
  });
  const out = await session.run({ x: new ort.Tensor("float32", Float32Array.of(1, 2, 3, 4), [1, 4]) });
  const y = out.y.data;
  if (y[3] !== 8) throw new Error(`the probe computed ${y[3]} instead of 8`);
  await session.release();
}

main().then(
  () => process.stdout.write(JSON.stringify({ ok: true })),
  (err) =>
    process.stdout.write(
      JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) }),
    ),
);
