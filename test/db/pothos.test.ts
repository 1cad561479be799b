// The GraphQL layer will use @pothos/plugin-prisma over `db.prisma`; on PostgreSQL that is the client
// generated from prisma/postgresql/schema.prisma behind the SQLite client's type. Prove both serve
// Pothos's relation-aware queries with the generated datamodel.

import { createRequire } from "node:module";
import SchemaBuilder from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import { afterAll, describe, expect, it } from "vitest";
import { type Db, getDatamodel, openDatabase, type PrismaTypes } from "../../src/db/index.ts";
import { makeRun } from "../helpers/fixtures.ts";
import { BACKENDS } from "./backends.ts";

// Pothos is loaded by Node, which resolves graphql's CommonJS build; vite would hand this file the ESM
// build, and graphql refuses a schema "from another module or realm". Load the same copy Pothos uses.
const { execute, parse } = createRequire(import.meta.url)("graphql") as typeof import("graphql");

function schemaFor(db: Db) {
  const builder = new SchemaBuilder<{ PrismaTypes: PrismaTypes; Context: Record<string, never> }>({
    plugins: [PrismaPlugin],
    prisma: { client: db.prisma, dmmf: getDatamodel() },
  });
  builder.prismaObject("Model", {
    fields: (t) => ({ name: t.exposeString("name"), classes: t.exposeInt("classes") }),
  });
  builder.prismaObject("Run", {
    fields: (t) => ({
      id: t.exposeInt("id"),
      status: t.exposeString("status"),
      model: t.relation("model"),
      stepsCompleted: t.exposeInt("stepsCompleted"),
    }),
  });
  builder.queryType({
    fields: (t) => ({
      runs: t.prismaField({
        type: ["Run"],
        resolve: (query) => db.prisma.run.findMany({ ...query, orderBy: { id: "asc" } }),
      }),
    }),
  });
  return builder.toSchema();
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`Pothos over ${backend.name}`, () => {
    afterAll(() => backend.stop());

    it("resolves runs with their model through @pothos/plugin-prisma", async () => {
      const db = await openDatabase(await backend.newUrl());
      try {
        const run = await makeRun(db);
        const model = await db.getModel(Number(run.modelId));
        const result = await execute({
          schema: schemaFor(db),
          document: parse("{ runs { id status stepsCompleted model { name classes } } }"),
          contextValue: {},
        });
        expect(result.errors).toBeUndefined();
        expect(result.data).toEqual({
          runs: [
            { id: run.id, status: "QUEUED", stepsCompleted: 0, model: { name: model?.name, classes: 2 } },
          ],
        });
      } finally {
        await db.close();
      }
    });
  });
}
