// Dataset: a registered dataset description (the data is generated or read by src/train/), a Relay
// node. Query `datasets` (connection).
import { builder } from "./builder.ts";
import { JSONObjectScalar, PositiveIntScalar } from "./scalars.ts";
import { intList } from "./shapes.ts";

export const DatasetType = builder.prismaNode("Dataset", {
  description: "A dataset runs train on: its spec and the shape of its samples",
  id: { field: "id" },
  // node(id:) answers null for a row that does not exist, as Relay expects, instead of throwing.
  nullable: true,
  fields: (t) => ({
    databaseId: t.exposeInt("id", {
      description: "The dataset's number; arguments accept it in place of `id` (deprecated there)",
    }),
    name: t.exposeString("name", { description: "Unique name, derived from the spec" }),
    kind: t.exposeString("kind", {
      description: "synthetic, blobs, mnist, text, idx, cifar10 or csv",
    }),
    parameters: t.expose("parameters", {
      type: JSONObjectScalar,
      description: "The dataset spec as an object (pass it as datasetSpec to train on it again)",
    }),
    inputShape: t.field({
      type: ["Int"],
      description: "Shape of one sample, without the batch dimension",
      resolve: (d) => intList(d.inputShape),
    }),
    classes: t.expose("classes", { type: PositiveIntScalar, description: "Number of classes" }),
    trainSize: t.exposeInt("trainSize", { description: "Training samples" }),
    valSize: t.exposeInt("valSize", { description: "Validation samples (0: none)" }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was registered" }),
  }),
});

builder.queryField("datasets", (t) =>
  t.prismaConnection(
    {
      type: "Dataset",
      cursor: "id",
      description: "Datasets runs have used, oldest first; at most 100 per page",
      defaultSize: 100,
      maxSize: 100,
      totalCount: (_root, _args, ctx) => ctx.db.prisma.dataset.count(),
      resolve: (query, _root, _args, ctx) =>
        ctx.db.prisma.dataset.findMany({ ...query, orderBy: { id: "asc" } }),
    },
    { name: "DatasetConnection", description: "A page of datasets" },
    { name: "DatasetEdge", description: "A dataset and its cursor" },
  ),
);
