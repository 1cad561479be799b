import { describe, expect, it } from "vitest";
import { detectProviders, ProviderUnavailableError, requireProvider } from "../../src/train/providers.ts";

describe("execution providers", () => {
  it("reports CPU as available and every provider once, in a fixed order", async () => {
    const all = await detectProviders();
    expect(all.map((p) => p.name)).toEqual(["CPU", "CUDA", "WEBGPU"]);
    expect(all[0]).toEqual({ name: "CPU", available: true, reason: null });
    await expect(requireProvider("CPU")).resolves.toBeUndefined();
  });

  it("gives an unavailable GPU provider a reason with install instructions, and refuses to use it", async () => {
    const all = await detectProviders();
    const hints = {
      CUDA: /npm install --onnxruntime-node-install=cuda12.*CUDA 12 and cuDNN 9/,
      WEBGPU: /Vulkan driver/,
    };
    for (const name of ["CUDA", "WEBGPU"] as const) {
      const p = all.find((x) => x.name === name);
      if (p?.available) {
        // A machine with this GPU stack: nothing to explain.
        expect(p.reason).toBeNull();
        continue;
      }
      expect(p?.reason).toMatch(new RegExp(`^${name} is not usable here \\(.+\\); `));
      expect(p?.reason).toMatch(hints[name]);
      const err = await requireProvider(name).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderUnavailableError);
      expect((err as Error).message).toBe(p?.reason);
    }
  });

  it("probes once per process: a second call returns the cached answer", async () => {
    expect(detectProviders()).toBe(detectProviders());
  });
});
