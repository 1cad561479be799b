// `npm ci --engine-strict` (CI, and .npmrc's engine-strict for `npm install`) refuses a Node.js that
// any locked package's "engines" excludes. This checks the same offline: the running Node (the one CI
// uses) satisfies package.json's engines and every package in package-lock.json.
import { readFileSync } from "node:fs";
import semver from "semver";
import { describe, expect, it } from "vitest";

const read = (file: string) => JSON.parse(readFileSync(new URL(`../${file}`, import.meta.url), "utf8"));
const PKG = read("package.json") as { engines: { node: string } };
const LOCK = read("package-lock.json") as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

describe("engines", () => {
  it("runs on a Node that package.json's engines accept, and those engines name Node 20", () => {
    expect(semver.satisfies(process.versions.node, PKG.engines.node)).toBe(true);
    expect(semver.satisfies("20.19.0", PKG.engines.node)).toBe(true);
  });

  it("locks only packages whose engines field accepts this Node, as npm ci --engine-strict requires", () => {
    const refused = Object.entries(LOCK.packages).flatMap(([path, p]) => {
      const range = !Array.isArray(p.engines) ? p.engines?.node : undefined;
      return path && range && !semver.satisfies(process.versions.node, range)
        ? [`${path}@${p.version}: node ${range}`]
        : [];
    });
    expect(Object.keys(LOCK.packages).length).toBeGreaterThan(300);
    expect(refused).toEqual([]);
  });
});
