import { defineConfig } from "vitest/config";

// Integration tests start real servers and real databases; the machine has 2 cores,
// so files run in forks with generous timeouts rather than timed assertions.
export default defineConfig({
  // graphql ships index.mjs ("module") and index.js ("main"); Vite would pick the .mjs for our files
  // while Node loads the .js for externalized packages (Pothos, yoga), and graphql refuses two copies.
  resolve: { alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }] },
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.VITEST_JSON
      ? ["default", ["json", { outputFile: process.env.VITEST_JSON }]]
      : ["default"],
  },
});
