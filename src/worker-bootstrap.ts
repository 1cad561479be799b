// Starting TypeScript in another thread or process, however this one was started (tsx, vitest):
// Node 20 does not carry the main thread's loader hooks into worker threads, and `--import` in a
// worker's execArgv is not honoured, so a worker is started from a bootstrap that registers tsx's
// loader and then imports its entry; a child process gets tsx's loader with `--import`.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

function tsxDir(): string {
  return dirname(createRequire(import.meta.url).resolve("tsx/package.json"));
}

/** The source of a worker (run with `eval: true`) that registers tsx, then imports `entry`. */
export function tsWorkerSource(entry: URL): string {
  const api = pathToFileURL(join(tsxDir(), "dist", "esm", "api", "index.mjs")).href;
  return `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
}

/** tsx's loader, for `node --import <it> entry.ts` in a child process. */
export function tsxLoaderUrl(): string {
  return pathToFileURL(join(tsxDir(), "dist", "loader.mjs")).href;
}
