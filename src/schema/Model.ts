// Model: a forward ONNX graph that runs train, a Relay node. Queries `models` (connection),
// `model(id)`; mutation `registerModel`.
import { ModelSource } from "../db/index.ts";
import { intId, UnsupportedModelError, ValidationError } from "../errors.ts";
import { admitModel } from "../models/inspect.ts";
import { builder } from "./builder.ts";
import { JSONObjectScalar, PositiveIntScalar, UploadScalar } from "./scalars.ts";
import { intList } from "./shapes.ts";

const ModelSourceEnum = builder.enumType("ModelSource", {
  description: "Where a model came from",
  values: {
    BUILTIN: { value: ModelSource.BUILTIN, description: "Shipped with gradstream (models/)" },
    UPLOAD: { value: ModelSource.UPLOAD, description: "Uploaded with registerModel" },
    PATH: { value: ModelSource.PATH, description: "Loaded from an .onnx file on the server's disk (CLI)" },
  } as const,
});

export const ModelType = builder.prismaNode("Model", {
  description: "A forward model (ONNX) that runs train",
  id: { field: "id" },
  // node(id:) answers null for a row that does not exist, as Relay expects, instead of throwing.
  nullable: true,
  // Select mode: only the columns a query asks for are read, never the ONNX bytes (≈2 MB for the
  // built-ins made every `models` query cost ≈100 ms of CPU, an easy way to load the server).
  select: { id: true },
  fields: (t) => ({
    databaseId: t.exposeInt("id", {
      description: "The model's number; arguments accept it in place of `id` (deprecated there)",
    }),
    name: t.exposeString("name", { description: "Unique name (the built-ins: linear, mlp, cnn, …)" }),
    source: t.expose("source", { type: ModelSourceEnum, description: "Where it came from" }),
    contentHash: t.exposeString("contentHash", { description: "sha256 of the ONNX bytes, hex" }),
    inputShape: t.field({
      type: ["Int"],
      description: "Input shape without the batch dimension, e.g. [3, 32, 32]",
      select: { inputShape: true },
      resolve: (m) => intList(m.inputShape),
    }),
    classes: t.expose("classes", { type: PositiveIntScalar, description: "Number of output classes" }),
    parameterCount: t.exposeInt("parameterCount", { description: "Trainable parameters (scalars)" }),
    opSummary: t.expose("opSummary", {
      type: JSONObjectScalar,
      description: 'ONNX op type → node count, e.g. {"Gemm": 2, "Relu": 1}',
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was registered" }),
  }),
});

builder.queryField("models", (t) =>
  t.prismaConnection(
    {
      type: "Model",
      cursor: "id",
      description: "Registered models, oldest first (the built-ins come first); at most 100 per page",
      defaultSize: 100,
      maxSize: 100,
      totalCount: (_root, _args, ctx) => ctx.db.prisma.model.count(),
      resolve: (query, _root, _args, ctx) =>
        ctx.db.prisma.model.findMany({ ...query, orderBy: { id: "asc" } }),
    },
    { name: "ModelConnection", description: "A page of models" },
    { name: "ModelEdge", description: "A model and its cursor" },
  ),
);

builder.queryField("model", (t) =>
  t.prismaField({
    type: "Model",
    nullable: true,
    description:
      "The model with this id, or null when there is none (an id that is not a model id is an error)",
    args: { id: t.arg.id({ required: true, description: "The model's id (the legacy number is accepted)" }) },
    resolve: (query, _root, { id }, ctx) =>
      ctx.db.prisma.model.findUnique({ ...query, where: { id: intId("model", id) } }),
  }),
);

builder.mutationField("registerModel", (t) =>
  t.prismaField({
    type: "Model",
    description:
      "Uploads an ONNX forward model (GraphQL multipart request). It is parsed and compiled before it is stored: an unsupported op, a bad shape or a malformed file is an error and stores nothing.",
    errors: { types: [ValidationError, UnsupportedModelError], directResult: true },
    args: {
      file: t.arg({
        type: UploadScalar,
        required: true,
        description: "The .onnx file (at most MAX_UPLOAD_BYTES)",
      }),
      name: t.arg.string({ required: true, description: "A unique name for it" }),
    },
    resolve: async (query, _root, { file, name }, ctx) => {
      const limits = { ...ctx.config.limits, maxUploadBytes: ctx.config.maxUploadBytes };
      const read = async () => new Uint8Array(await file.arrayBuffer());
      const model = await admitModel(ctx.db, limits, { name, size: file.size, read });
      const created = await ctx.db.createModel({ name, source: ModelSource.UPLOAD, ...model });
      return ctx.db.prisma.model.findUniqueOrThrow({ ...query, where: { id: created.id } });
    },
  }),
);
