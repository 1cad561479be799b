#!/usr/bin/env node
// npx gradstream …: runs the TypeScript CLI through tsx's loader (no build step to forget).
import { spawn } from "node:child_process";

// `train` reads and decodes datasets of hundreds of MB. glibc's malloc backs its large blocks with
// transparent huge pages (one page fault per 2 MB instead of per 4 KB) only when told so at process
// start: Fashion-MNIST's load went from 1.6–1.7 s to 0.8–0.9 s on the 2-core Linux VM this was measured
// on. So on Linux `train` starts itself once more with that tunable, unless GLIBC_TUNABLES is already set
// (a user's own settings win; an empty value turns this off).
if (process.platform === "linux" && process.argv[2] === "train" && process.env.GLIBC_TUNABLES === undefined) {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" },
  });
  // Ctrl-C reaches the whole foreground process group, the child included: passing it on again would
  // be a second Ctrl-C, which ends training without its final checkpoint line. Other signals are passed on.
  process.on("SIGINT", () => {});
  for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  // imported here, so the restarting parent above loads nothing but Node itself
  const { register } = await import("tsx/esm/api");
  register();
  const { run } = await import("../scripts/cli.ts");
  process.exitCode = await run(process.argv.slice(2));
}
