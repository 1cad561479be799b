// ExecutionProvider: where onnxruntime can run (CPU always; CUDA/WebGPU when installed).

import { PROVIDERS } from "../runs/catalog.ts";
import type { ProviderInfo } from "../runs/types.ts";
import { builder } from "./builder.ts";

const DESCRIPTIONS: Record<(typeof PROVIDERS)[number], string> = {
  CPU: "onnxruntime's CPU provider (always available)",
  CUDA: "NVIDIA GPUs (onnxruntime-node's CUDA provider, Linux x64 with CUDA 12)",
  WEBGPU: "onnxruntime's WebGPU provider",
};

export const ProviderNameEnum = builder.enumType("ExecutionProviderName", {
  description: "An onnxruntime execution provider",
  values: Object.fromEntries(PROVIDERS.map((p) => [p, { value: p, description: DESCRIPTIONS[p] }])),
});

/** A stored provider name as the enum, or null ("external" for EXTERNAL runs, or not known yet). */
export function providerOrNull(name: string | null): (typeof PROVIDERS)[number] | null {
  const upper = name?.toUpperCase();
  return PROVIDERS.find((p) => p === upper) ?? null;
}

export const ExecutionProviderType = builder.objectRef<ProviderInfo>("ExecutionProvider").implement({
  description: "An execution provider and whether this server can train on it",
  fields: (t) => ({
    name: t.expose("name", { type: ProviderNameEnum, description: "The provider" }),
    available: t.exposeBoolean("available", {
      description: "Whether runs may request it here (StartRunInput.provider)",
    }),
    reason: t.exposeString("reason", {
      nullable: true,
      description: "Why it is unavailable and how to fix it; null when available",
    }),
  }),
});

builder.queryField("executionProviders", (t) =>
  t.field({
    type: [ExecutionProviderType],
    description: "The execution providers onnxruntime offers, and which this server can use",
    resolve: (_root, _args, ctx) => ctx.runs.providers(),
  }),
);
