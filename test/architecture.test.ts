// The layering and size rules of the code base, measured by scripts/check-architecture.ts (which
// prints the same numbers): short resolvers that delegate, a run lifecycle composed rather than
// subclassed, a schema that does not reach past src/runs, and dashboard functions one can read.
import { describe, expect, it } from "vitest";
import {
  dashboardFunctionLengths,
  resolverLengths,
  runsFileLengths,
  runsInheritance,
  schemaUpwardImports,
} from "../scripts/check-architecture.ts";

const over = (m: { where: string; lines: number }[], max: number) => m.filter((x) => x.lines > max);

describe("architecture", () => {
  it("keeps every GraphQL resolver at 20 lines or fewer", () => {
    expect(resolverLengths().length).toBeGreaterThan(30);
    expect(over(resolverLengths(), 20)).toEqual([]);
  });

  it("keeps every src/runs file at 300 lines or fewer, with no protected member and no subclassed manager", () => {
    expect(over(runsFileLengths(), 300)).toEqual([]);
    expect(runsInheritance()).toEqual([]);
  });

  it("lets src/schema import nothing from src/server or src/train", () => {
    expect(schemaUpwardImports()).toEqual([]);
  });

  it("keeps every dashboard function at 120 lines or fewer", () => {
    expect(dashboardFunctionLengths().length).toBeGreaterThan(50);
    expect(over(dashboardFunctionLengths(), 120)).toEqual([]);
  });
});
