#!/usr/bin/env node
// npx gradstream …: runs the TypeScript CLI through tsx's loader (no build step to forget).
import { register } from "tsx/esm/api";

register();
const { run } = await import("../scripts/cli.ts");
process.exitCode = await run(process.argv.slice(2));
