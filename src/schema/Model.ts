// Model: a forward ONNX graph that runs train. Queries `models`, `model(id)`; mutation `registerModel`.
import { ModelSource } from "../db/index.ts";
import { intId, NotFoundError, UnsupportedModelError, ValidationError } from "../errors.ts";
import { admitModel } from "../models/inspect.ts";
import { builder } from "./builder.ts";
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
      const limits = { ...ctx.config.limits, maxUploadBytes: ctx.config.maxUploadBytes };
      const read = async () => new Uint8Array(await file.arrayBuffer());
      const model = await admitModel(ctx.db, limits, { name, size: file.size, read });
      const created = await ctx.db.createModel({ name, source: ModelSource.UPLOAD, ...model });
      return ctx.db.prisma.model.findUniqueOrThrow({ ...query, where: { id: created.id } });
    },
  }),
);
