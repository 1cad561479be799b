// Runs the Prisma 6.19 CLI offline, plus gradstream's own schema/migration helpers.
//
//   node scripts/prisma.mjs generate           generate both clients (SQLite, PostgreSQL) + Pothos types
//   node scripts/prisma.mjs schema [--check]   rewrite (or check) prisma/postgresql/schema.prisma from prisma/schema.prisma
//   node scripts/prisma.mjs migration <name>   add a migration for both databases (diff from the last snapshot)
//   node scripts/prisma.mjs <anything else>    passed to the Prisma CLI (e.g. `migrate status`)
//
// Why the environment below: with `engine: "js"` (prisma.config.ts) the CLI needs no native schema
// engine, but at start-up it still tries to download a native query-engine library unless
// PRISMA_QUERY_ENGINE_LIBRARY names an existing file; the generated clients (engineType "client")
// never load it, so any existing file does. Telemetry and update checks are turned off.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "node_modules", "prisma", "build", "index.js");
const env = {
  ...process.env,
  PRISMA_QUERY_ENGINE_LIBRARY: process.env.PRISMA_QUERY_ENGINE_LIBRARY || cli,
  PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING: "1",
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
  CHECKPOINT_DISABLE: "1",
  // Generators such as prisma-pothos-types are looked up on PATH, as `npx prisma` would.
  PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
  PRISMA_TELEMETRY_INFORMATION: "",
};

const SOURCE = join(root, "prisma", "schema.prisma");
const PG_SCHEMA = join(root, "prisma", "postgresql", "schema.prisma");
const MIGRATIONS = {
  sqlite: join(root, "prisma", "migrations"),
  postgresql: join(root, "prisma", "postgresql", "migrations"),
};

/** The PostgreSQL schema is the SQLite source with its provider, client output and comments swapped. */
export function postgresSchemaFrom(source) {
  const header =
    "// GENERATED from prisma/schema.prisma by `node scripts/prisma.mjs schema`: do not edit.\n" +
    "// Only the datasource provider and the client's output differ; the Pothos types come from the source.\n";
  let out = source
    .replace(/^\/\/ gradstream's data model[^\n]*\n(\/\/[^\n]*\n)*/m, header)
    .replace(/provider\s*=\s*"sqlite"/, 'provider = "postgresql"')
    .replace(/url\s*=\s*"file:[^"]*"/, 'url      = "postgresql://localhost/gradstream"')
    .replace(
      /output\s*=\s*"\.\.\/src\/generated\/sqlite"/,
      'output              = "../../src/generated/postgresql"',
    )
    .replace(/\ngenerator pothos \{[^}]*\}\n/, "\n");
  if (out === source) throw new Error("prisma/schema.prisma has an unexpected shape");
  out = out.replace(/\n{3,}/g, "\n\n");
  return out;
}

function prisma(args, opts = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: root,
    env: { ...env, ...opts.env },
    stdio: opts.capture ? ["ignore", "pipe", "inherit"] : "inherit",
    encoding: "utf8",
  });
  if (r.status !== 0) {
    if (opts.capture) process.stderr.write(r.stdout ?? "");
    process.exit(r.status ?? 1);
  }
  return r.stdout ?? "";
}

function writeIfChanged(file, text) {
  mkdirSync(dirname(file), { recursive: true });
  if (existsSync(file) && readFileSync(file, "utf8") === text) return false;
  writeFileSync(file, text);
  return true;
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === "generate" && rest.length === 0) {
  prisma(["generate", "--schema", "prisma/schema.prisma"]);
  prisma(["generate", "--schema", "prisma/postgresql/schema.prisma"]);
} else if (cmd === "schema") {
  const expected = postgresSchemaFrom(readFileSync(SOURCE, "utf8"));
  if (rest[0] === "--check") {
    // Used by test/db/schema-drift.test.ts: the committed PostgreSQL schema must be the generated one.
    const actual = existsSync(PG_SCHEMA) ? readFileSync(PG_SCHEMA, "utf8") : "";
    if (actual !== expected) {
      console.error(
        "prisma/postgresql/schema.prisma differs from the one generated from prisma/schema.prisma;",
      );
      console.error("run `node scripts/prisma.mjs schema` (and `migration <name>` if the models changed)");
      process.exit(1);
    }
    console.log("prisma/postgresql/schema.prisma is up to date");
  } else {
    const changed = writeIfChanged(PG_SCHEMA, expected);
    console.log(
      changed ? "wrote prisma/postgresql/schema.prisma" : "prisma/postgresql/schema.prisma is up to date",
    );
  }
} else if (cmd === "migration") {
  const name = rest[0];
  if (!name || !/^[a-z0-9_]+$/.test(name)) {
    console.error("usage: node scripts/prisma.mjs migration <name> (lowercase letters, digits, _)");
    process.exit(2);
  }
  const source = readFileSync(SOURCE, "utf8");
  writeIfChanged(PG_SCHEMA, postgresSchemaFrom(source));
  // Each migration folder keeps a snapshot of the source schema it leads to: the next migration is the
  // diff from that snapshot, and the drift test checks the newest snapshot equals the source.
  const previous = readdirSync(MIGRATIONS.sqlite, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .at(-1);
  const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const folder = `${stamp}_${name}`;
  const tmp = join(root, "node_modules", ".cache", "gradstream-prisma");
  mkdirSync(tmp, { recursive: true });
  for (const provider of ["sqlite", "postgresql"]) {
    const to = provider === "sqlite" ? SOURCE : PG_SCHEMA;
    let from = ["--from-empty"];
    if (previous) {
      const snap = readFileSync(join(MIGRATIONS.sqlite, previous, "snapshot.prisma"), "utf8");
      const file = join(tmp, `${provider}-from.prisma`);
      writeFileSync(file, provider === "sqlite" ? snap : postgresSchemaFrom(snap));
      from = ["--from-schema-datamodel", file];
    }
    // The CLI opens the config's adapter even to diff two schema files: give it a scratch database.
    const sql = prisma(["migrate", "diff", ...from, "--to-schema-datamodel", to, "--script"], {
      capture: true,
      env: { DATABASE_URL: `file:${join(tmp, "scratch.db")}` },
    });
    writeIfChanged(join(MIGRATIONS[provider], folder, "migration.sql"), sql);
    writeIfChanged(join(MIGRATIONS[provider], "migration_lock.toml"), `provider = "${provider}"\n`);
  }
  writeFileSync(join(MIGRATIONS.sqlite, folder, "snapshot.prisma"), source);
  console.log(`wrote prisma/migrations/${folder} and prisma/postgresql/migrations/${folder}`);
} else {
  const r = spawnSync(process.execPath, [cli, ...(cmd ? [cmd] : []), ...rest], {
    cwd: root,
    env,
    stdio: "inherit",
  });
  process.exit(r.status ?? 1);
}
