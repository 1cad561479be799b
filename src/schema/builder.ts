// The Pothos builder and its plugins; defines no types (each GraphQL type has its own file).
import SchemaBuilder from "@pothos/core";
import ErrorsPlugin from "@pothos/plugin-errors";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import type { JsonValue } from "../db/index.ts";
import type PrismaTypes from "../generated/pothos-types.ts";
import { getDatamodel } from "../generated/pothos-types.ts";
import type { Context } from "./context.ts";

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string | number };
    JSON: { Input: JsonValue; Output: unknown };
    DateTime: { Input: Date; Output: Date };
    Upload: { Input: File; Output: never };
  };
}>({
  defaultFieldNullability: false,
  plugins: [ErrorsPlugin, RelayPlugin, PrismaPlugin],
  // The Rust-free Prisma client has no Prisma.dmmf: the generated Pothos file carries the datamodel.
  prisma: { client: (ctx) => ctx.db.prisma, dmmf: getDatamodel(), exposeDescriptions: true },
  relay: { clientMutationId: "omit", cursorType: "String" },
  errors: { defaultTypes: [] },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
