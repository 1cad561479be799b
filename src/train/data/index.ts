// Public surface of the datasets module.
export * from "./batches.ts";
export { apiDatasetSpec, type DataFiles, nodeFiles, resolveDataFile } from "./files.ts";
export * from "./formats.ts";
export * from "./load.ts";
export * from "./prng.ts";
export * from "./spec.ts";
