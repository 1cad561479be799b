import { defineConfig } from "vitest/config";

// Integration tests start real servers and real databases; the machine has 2 cores,
// so files run in forks with generous timeouts rather than timed assertions.
export default defineConfig({
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
