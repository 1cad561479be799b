import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { printedSchema, SCHEMA_FILE } from "../../scripts/print-schema.ts";

describe("schema.graphql", () => {
  it("matches the SDL printed from the Pothos schema (run tsx scripts/print-schema.ts after a schema change)", () => {
    expect(printedSchema()).toBe(readFileSync(SCHEMA_FILE, "utf8"));
  });
});
