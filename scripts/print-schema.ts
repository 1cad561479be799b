// Writes the GraphQL schema's SDL to schema.graphql (committed; test/schema/sdl.test.ts fails on drift).
// Usage: tsx scripts/print-schema.ts [--check]
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { lexicographicSortSchema, printSchema } from "graphql";
import { schema } from "../src/schema/index.ts";

export const SCHEMA_FILE = join(dirname(fileURLToPath(import.meta.url)), "..", "schema.graphql");

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

const isEntry = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isEntry) {
  const sdl = printedSchema();
  if (process.argv.includes("--check")) {
    const current = readFileSync(SCHEMA_FILE, "utf8");
    if (current !== sdl) {
      console.error("schema.graphql is out of date: run tsx scripts/print-schema.ts");
      process.exit(1);
    }
  } else {
    writeFileSync(SCHEMA_FILE, sdl);
    console.log(`wrote ${SCHEMA_FILE}`);
  }
}
