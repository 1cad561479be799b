// Custom scalars: JSON (hyperparameters, specs, op summaries), DateTime (ISO 8601), Upload (multipart).
import { GraphQLError, Kind, type ValueNode } from "graphql";
import type { JsonValue } from "../db/index.ts";
import { builder } from "./builder.ts";

function literal(node: ValueNode, variables: Record<string, unknown> | null | undefined): JsonValue {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((v) => literal(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literal(f.value, variables)]));
    case Kind.VARIABLE:
      return (variables?.[node.name.value] ?? null) as JsonValue;
    default:
      throw new GraphQLError("JSON literal: enums are not JSON values");
  }
}

export const JSONScalar = builder.scalarType("JSON", {
  description: "Any JSON value",
  serialize: (v) => v,
  parseValue: (v) => v as JsonValue,
  parseLiteral: (node, variables) => literal(node, variables),
});

export const DateTimeScalar = builder.scalarType("DateTime", {
  description: "An ISO 8601 timestamp (UTC)",
  serialize: (v) => (v instanceof Date ? v.toISOString() : String(v)),
  parseValue: (v) => {
    const d = new Date(String(v));
    if (Number.isNaN(d.getTime()))
      throw new GraphQLError(`DateTime must be an ISO 8601 string, got ${String(v)}`);
    return d;
  },
});

export const UploadScalar = builder.scalarType("Upload", {
  description: "A file sent with the GraphQL multipart request spec",
  serialize: () => {
    throw new GraphQLError("Upload is an input-only scalar");
  },
  parseValue: (v) => {
    if (typeof File !== "undefined" && v instanceof File) return v;
    if (typeof v === "object" && v !== null && "arrayBuffer" in v && "name" in v) return v as File;
    throw new GraphQLError(
      "Upload must be a file sent as multipart/form-data (GraphQL multipart request spec)",
    );
  },
});
