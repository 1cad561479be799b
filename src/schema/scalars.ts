// Scalars: DateTime, JSON, JSONObject and PositiveInt from graphql-scalars (each names the spec its
// values follow with @specifiedBy), and Upload (multipart file uploads).
import { GraphQLError, GraphQLScalarType } from "graphql";
import { GraphQLDateTime, GraphQLJSON, GraphQLJSONObject, GraphQLPositiveInt } from "graphql-scalars";
import { builder } from "./builder.ts";

/** graphql-scalars' scalar with our description and spec URL (printed as @specifiedBy). */
function specified(scalar: GraphQLScalarType, description: string, specifiedByURL: string) {
  return new GraphQLScalarType({ ...scalar.toConfig(), description, specifiedByURL });
}

export const DateTimeScalar = builder.addScalarType(
  "DateTime",
  specified(
    GraphQLDateTime,
    "A point in time as an RFC 3339 string in UTC with milliseconds, e.g. 2026-12-02T09:15:30.123Z",
    "https://scalars.graphql.org/andimarek/date-time",
  ),
);

export const JSONScalar = builder.addScalarType(
  "JSON",
  specified(
    GraphQLJSON,
    "Any JSON value (ECMA-404)",
    "https://www.ecma-international.org/publications-and-standards/standards/ecma-404/",
  ),
);

export const JSONObjectScalar = builder.addScalarType(
  "JSONObject",
  specified(
    GraphQLJSONObject,
    "A JSON object (ECMA-404): string keys, any JSON values; arrays and plain values are refused",
    "https://www.ecma-international.org/publications-and-standards/standards/ecma-404/",
  ),
);

export const PositiveIntScalar = builder.addScalarType(
  "PositiveInt",
  specified(
    GraphQLPositiveInt,
    "An integer from 1 to 2147483647; 0 and negative values are refused",
    "https://the-guild.dev/graphql/scalars/docs/scalars/positive-int",
  ),
);

export const UploadScalar = builder.scalarType("Upload", {
  description:
    "A file sent as a part of a multipart/form-data request (GraphQL multipart request spec); input only",
  specifiedByURL: "https://github.com/jaydenseric/graphql-multipart-request-spec",
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
