// gradstream token create --scope read|write --name <name> | token revoke <id|name> | token list
// Manages API tokens in the database named by DATABASE_URL (the server's own; it need not be running).
// `create` prints the token once: only its sha256 is stored (src/db/tokens.ts explains why).
import { parseArgs } from "node:util";
import { type Db, openDatabase } from "../../src/db/index.ts";
import { createToken, isScope, listTokens, revokeToken, TokenError } from "../../src/db/tokens.ts";
import { loadConfig } from "../../src/server/config.ts";

const USAGE = `usage:
  gradstream token create --scope read|write --name <name>   print a new token (shown once)
  gradstream token revoke <id|name>                          revoke an active token
  gradstream token list                                      list tokens (never their secrets)

Scopes: read = queries and subscriptions; write = mutations too (implies read).
Uses DATABASE_URL (default file:./data/gradstream.db), like gradstream serve.`;

type Out = (line: string) => void;

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDatabase(loadConfig().databaseUrl);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The command body, over an open database (tests call this with their own Db and sinks). */
export async function tokenCommand(db: Db, args: string[], out: Out, err: Out): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === "create") {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { scope: { type: "string" }, name: { type: "string" } },
        allowPositionals: true,
      });
      if (positionals.length > 0 || !values.name || !values.scope) {
        err(`gradstream token create needs --scope read|write and --name <name>\n\n${USAGE}`);
        return 2;
      }
      if (!isScope(values.scope)) {
        err(`--scope must be read or write, got ${JSON.stringify(values.scope)}`);
        return 2;
      }
      const { token, row } = await createToken(db, { name: values.name, scope: values.scope });
      out(token);
      err(
        `created token ${row.id} "${row.name}" (scope ${row.scope}); it is shown only now: store it, ` +
          `send it as "Authorization: Bearer <token>"`,
      );
      return 0;
    }
    if (sub === "revoke") {
      if (rest.length !== 1) {
        err(`gradstream token revoke needs one id or name\n\n${USAGE}`);
        return 2;
      }
      const row = await revokeToken(db, rest[0]);
      out(`revoked token ${row.id} "${row.name}" (scope ${row.scope})`);
      return 0;
    }
    if (sub === "list") {
      if (rest.length !== 0) {
        err(`gradstream token list takes no arguments\n\n${USAGE}`);
        return 2;
      }
      const rows = await listTokens(db);
      out(["id", "name", "scope", "prefix", "created", "last used", "revoked"].join("\t"));
      for (const r of rows) {
        out(
          [
            r.id,
            r.name,
            r.scope,
            `${r.prefix}…`,
            r.createdAt.toISOString(),
            r.lastUsedAt?.toISOString() ?? "-",
            r.revokedAt?.toISOString() ?? "-",
          ].join("\t"),
        );
      }
      return 0;
    }
    err(USAGE);
    return sub === "--help" || sub === "-h" ? 0 : 2;
  } catch (e) {
    if (e instanceof TokenError || (e instanceof Error && e.name === "TypeError" && "code" in e)) {
      err(`gradstream token: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

export async function main(args: string[]): Promise<number> {
  if (args.length === 0 || args[0] === "--help" || args[0] === "-h") {
    console.log(USAGE);
    return args.length === 0 ? 2 : 0;
  }
  return withDb((db) =>
    tokenCommand(
      db,
      args,
      (line) => console.log(line),
      (line) => console.error(line),
    ),
  );
}
