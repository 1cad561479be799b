// gradstream's command line. Each sub-command lives in scripts/commands/<name>.ts and exports
// `main(args): Promise<number>` (the exit code), loaded lazily so `gradstream --help` starts fast and a
// command's heavy imports (onnxruntime, Prisma) load only when it runs.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

interface CommandModule {
  main(args: string[]): Promise<number>;
}

const commands: Record<string, string> = {
  serve: "serve the GraphQL API (and train runs) on PORT (default 4000)",
  worker: "train queued runs without serving the API",
  train: "train a model without the server: --experiment <name> | --model <file.onnx> --dataset <spec>",
  export: "write the compiled training artifacts of a model to a folder: --model <file.onnx> --out <dir>",
  parity: "train <prefix>.onnx on <prefix>.data.bin and compare every step with <prefix>.json",
  runs: "list the runs of a running server; runs export <id> --format csv|ndjson writes one's rows",
  log: "stream a training script's printed metrics to a server: log [--name N] [-- COMMAND ARGS…]",
  watch: "subscribe to a running server and print a run's live batches: watch <runId>",
  token: "create, list or revoke API tokens",
  "db-migrate": "apply the database migrations to DATABASE_URL and exit",
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, text]) => `  ${name.padEnd(width)}  ${text}`);
  return `usage: gradstream <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nRun gradstream <command> --help for a command's options.`;
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const file = join(here, "commands", `${name}.ts`);
  if (!(name in commands) || !existsSync(file)) {
    console.error(`gradstream: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const mod = (await import(file)) as CommandModule;
  return mod.main(rest);
}

const isEntry = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isEntry) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`gradstream: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
