// Dataset: a registered dataset description (the data is generated or read by src/train/).
import { builder } from "./builder.ts";
import { JSONScalar } from "./scalars.ts";
import { intList } from "./shapes.ts";

export const DatasetType = builder.prismaObject("Dataset", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    kind: t.exposeString("kind", { description: "synthetic, blobs, mnist, idx, cifar10 or csv" }),
    parameters: t.expose("parameters", { type: JSONScalar, description: "The dataset spec" }),
    inputShape: t.field({ type: ["Int"], resolve: (d) => intList(d.inputShape) }),
    classes: t.exposeInt("classes"),
    trainSize: t.exposeInt("trainSize"),
    valSize: t.exposeInt("valSize"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.queryField("datasets", (t) =>
  t.prismaField({
    type: ["Dataset"],
    resolve: (query, _root, _args, ctx) =>
      ctx.db.prisma.dataset.findMany({ ...query, orderBy: { id: "asc" } }),
  }),
);
