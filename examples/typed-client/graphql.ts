// gql.tada's `graphql` for gradstream's schema: documents written with it are typed from
// schema.graphql at compile time (graphql-env.d.ts is generated from it offline:
// `npx gql.tada generate-output -c examples/typed-client/tsconfig.json`). No code generation step
// runs at build time and nothing is fetched from a server.
import { initGraphQLTada } from "gql.tada";
import type { introspection } from "./graphql-env.d.ts";

export const graphql = initGraphQLTada<{
  introspection: introspection;
  // How the custom scalars arrive in JSON.
  scalars: {
    DateTime: string;
    JSON: unknown;
    JSONObject: Record<string, unknown>;
    PositiveInt: number;
    Upload: never;
  };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from "gql.tada";
