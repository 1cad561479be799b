// The Pothos builder and its plugins; defines no types (each GraphQL type has its own file).
import SchemaBuilder from "@pothos/core";
import ErrorsPlugin from "@pothos/plugin-errors";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import type { JsonValue } from "../db/index.ts";
import type PrismaTypes from "../generated/pothos-types.ts";
import { getDatamodel } from "../generated/pothos-types.ts";
import type { Context } from "./context.ts";

/** "deleteRun" → "DeleteRun": payload and result unions are named after their mutation. */
const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string | number };
    JSON: { Input: JsonValue; Output: unknown };
    JSONObject: { Input: Record<string, unknown>; Output: unknown };
    DateTime: { Input: Date; Output: Date };
    PositiveInt: { Input: number; Output: number };
    Upload: { Input: File; Output: never };
  };
}>({
  defaultFieldNullability: false,
  plugins: [ErrorsPlugin, RelayPlugin, PrismaPlugin],
  // The Rust-free Prisma client has no Prisma.dmmf: the generated Pothos file carries the datamodel.
  prisma: { client: (ctx) => ctx.db.prisma, dmmf: getDatamodel(), exposeDescriptions: true },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    nodesOnConnection: { description: "The nodes of `edges`, for clients that need no cursors" },
    nodeTypeOptions: {
      description:
        "An object with a global ID: refetch any of them with `node(id:)` (Relay Global Object Identification)",
    },
    idFieldOptions: {
      description:
        "Global opaque ID (base64 of `Type:number`); pass it to `node(id:)` or to any argument that takes this type's id",
    },
    nodeQueryOptions: {
      description:
        "The object with this global ID, or null when there is none (a string that is not a global ID is an error)",
      args: { id: { description: "A global ID, as any `id` field returns it" } },
    },
    nodesQueryOptions: {
      description: "The objects with these global IDs, in order; null for each id that names none",
      args: { ids: { description: "Global IDs, as `id` fields return them" } },
    },
    pageInfoTypeOptions: { description: "Where a page sits in its connection (Relay Cursor Connections)" },
    hasNextPageFieldOptions: { description: "More items follow the last edge (page forward with `after`)" },
    hasPreviousPageFieldOptions: {
      description: "More items precede the first edge (page backward with `before`)",
    },
    startCursorFieldOptions: { description: "Cursor of the first edge; null for an empty page" },
    endCursorFieldOptions: { description: "Cursor of the last edge; null for an empty page" },
    cursorFieldOptions: { description: "Opaque cursor of this edge: pass it as `after` or `before`" },
    nodeFieldOptions: { description: "The item at the end of the edge" },
    edgesFieldOptions: { description: "The page's items with their cursors" },
    pageInfoFieldOptions: { description: "Cursors and whether more pages exist" },
    firstArgOptions: { description: "Page forward: at most this many items after `after`" },
    afterArgOptions: { description: "Cursor to page forward from (exclusive)" },
    lastArgOptions: { description: "Page backward: at most this many items before `before`" },
    beforeArgOptions: { description: "Cursor to page backward from (exclusive)" },
  },
  errors: {
    defaultTypes: [],
    defaultUnionOptions: {
      name: ({ parentTypeName, fieldName }) =>
        parentTypeName === "Mutation"
          ? `${pascal(fieldName)}Result`
          : `${parentTypeName}${pascal(fieldName)}Result`,
      description: "The payload on success, else the typed error that says what was wrong",
    },
    defaultResultOptions: {
      name: ({ parentTypeName, fieldName }) =>
        parentTypeName === "Mutation"
          ? `${pascal(fieldName)}Payload`
          : `${parentTypeName}${pascal(fieldName)}Payload`,
    },
  },
});

builder.queryType({ description: "Reads: catalogues, runs and their metrics, sweeps, the caller" });
builder.mutationType({
  description:
    "Writes: start, cancel, resume and delete runs, sweeps and experiments; register models and data; log an EXTERNAL run's metrics. Each returns a result union: the payload, or a typed error (NotFoundError, ValidationError, UnsupportedModelError)",
});
builder.subscriptionType({
  description: "Live streams over graphql-ws (WebSocket) or Server-Sent Events",
});
