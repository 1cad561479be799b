// Model: a forward ONNX graph that runs train. Queries `models`, `model(id)`; mutation `registerModel`.
import { ModelSource } from "../db/index.ts";
import { decodeModel } from "../graph/onnx.ts";
import { inspectModel, ModelInspectionError } from "../server/registry.ts";
import { builder } from "./builder.ts";
import { intId, NotFoundError, UnsupportedModelError, ValidationError } from "./errors.ts";
import { checkUpload } from "./resolve-helpers.ts";
import { JSONScalar, UploadScalar } from "./scalars.ts";
import { intList } from "./shapes.ts";

const ModelSourceEnum = builder.enumType(ModelSource, { name: "ModelSource" });

export const ModelType = builder.prismaObject("Model", {
  description: "A forward model (ONNX) that runs train",
  // Select mode: only the columns a query asks for are read, never the ONNX bytes (≈2 MB for the
  // built-ins made every `models` query cost ≈100 ms of CPU, an easy way to load the server).
  select: { id: true },
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    source: t.expose("source", { type: ModelSourceEnum }),
    contentHash: t.exposeString("contentHash", { description: "sha256 of the ONNX bytes, hex" }),
    inputShape: t.field({
      type: ["Int"],
      description: "Input shape without the batch dimension",
      select: { inputShape: true },
      resolve: (m) => intList(m.inputShape),
    }),
    classes: t.exposeInt("classes"),
    parameterCount: t.exposeInt("parameterCount"),
    opSummary: t.expose("opSummary", { type: JSONScalar, description: "Op type → node count" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.queryField("models", (t) =>
  t.prismaField({
    type: ["Model"],
    resolve: (query, _root, _args, ctx) => ctx.db.prisma.model.findMany({ ...query, orderBy: { id: "asc" } }),
  }),
);

builder.queryField("model", (t) =>
  t.prismaField({
    type: "Model",
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const row = await ctx.db.prisma.model.findUnique({ ...query, where: { id: intId("model", id) } });
      if (!row) throw new NotFoundError("model", String(id));
      return row;
    },
  }),
);

builder.mutationField("registerModel", (t) =>
  t.prismaField({
    type: "Model",
    description:
      "Uploads an ONNX forward model (GraphQL multipart request). It is parsed and compiled before it is stored: an unsupported op, a bad shape or a malformed file is an error and stores nothing.",
    errors: { types: [ValidationError, UnsupportedModelError], directResult: true },
    args: {
      file: t.arg({ type: UploadScalar, required: true }),
      name: t.arg.string({ required: true }),
    },
    resolve: async (query, _root, { file, name }, ctx) => {
      checkUpload(file, name, ctx.config.maxUploadBytes);
      if (await ctx.db.findModelByName(name)) {
        throw new ValidationError("name", `a model named "${name}" already exists; choose another name`);
      }
      const bytes = new Uint8Array(await file.arrayBuffer());
      // Count nodes before compiling: compile time grows with them and blocks the event loop.
      let nodes = 0;
      try {
        nodes = decodeModel(bytes).graph.nodes.length;
      } catch {
        // Unreadable: inspectModel below names the problem.
      }
      if (nodes > ctx.config.limits.maxModelNodes) {
        throw new ValidationError(
          "file",
          `the model has ${nodes} nodes; the limit is ${ctx.config.limits.maxModelNodes} (MAX_MODEL_NODES)`,
        );
      }
      let inspected: ReturnType<typeof inspectModel>;
      try {
        inspected = inspectModel(bytes);
      } catch (err) {
        if (err instanceof ModelInspectionError) {
          if (err.malformed) throw new ValidationError("file", err.message);
          throw new UnsupportedModelError(err.message, err.ops);
        }
        throw err;
      }
      const { maxModelParameters, maxBatchElements } = ctx.config.limits;
      if (inspected.parameterCount > maxModelParameters) {
        throw new ValidationError(
          "file",
          `the model has ${inspected.parameterCount} parameters; the limit is ${maxModelParameters} (MAX_MODEL_PARAMETERS)`,
        );
      }
      const sampleElements = inspected.inputShape.reduce((a, b) => a * b, 1);
      if (sampleElements > maxBatchElements) {
        throw new ValidationError(
          "file",
          `one input sample of shape [${inspected.inputShape}] has ${sampleElements} elements; batchSize × input size may be at most ${maxBatchElements} (MAX_BATCH_ELEMENTS)`,
        );
      }
      const created = await ctx.db.createModel({
        name,
        source: ModelSource.UPLOAD,
        onnx: bytes,
        ...inspected,
      });
      return ctx.db.prisma.model.findUniqueOrThrow({ ...query, where: { id: created.id } });
    },
  }),
);
