// ExecutionProvider: where onnxruntime can run (CPU always; CUDA/WebGPU when installed).

import { PROVIDERS } from "../runs/catalog.ts";
import type { ProviderInfo } from "../runs/types.ts";
import { builder } from "./builder.ts";

export const ProviderNameEnum = builder.enumType("ExecutionProviderName", { values: PROVIDERS });

export const ExecutionProviderType = builder.objectRef<ProviderInfo>("ExecutionProvider").implement({
  fields: (t) => ({
    name: t.expose("name", { type: ProviderNameEnum }),
    available: t.exposeBoolean("available"),
    reason: t.exposeString("reason", {
      nullable: true,
      description: "Why it is unavailable and how to fix it",
    }),
  }),
});

builder.queryField("executionProviders", (t) =>
  t.field({ type: [ExecutionProviderType], resolve: (_root, _args, ctx) => ctx.runs.providers() }),
);
