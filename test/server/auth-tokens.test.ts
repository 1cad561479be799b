// Token storage and the `gradstream token` command: secrets are printed once and stored only as
// sha256; revoke and list work by id or name; the auth module accepts, caches and refuses tokens.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tokenCommand } from "../../scripts/commands/token.ts";
import { type Db, openDatabase } from "../../src/db/index.ts";
import {
  createToken,
  findActiveToken,
  generateToken,
  hashToken,
  listTokens,
  looksLikeToken,
  revokeToken,
} from "../../src/db/tokens.ts";
import {
  ANONYMOUS,
  AuthError,
  authBanner,
  authRequired,
  bearerToken,
  createAuth,
} from "../../src/server/auth.ts";
import { loadConfig } from "../../src/server/config.ts";
import { postgresBackend, sqliteBackend } from "../db/backends.ts";

let dir: string;
let db: Db;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gradstream-tokens-"));
  db = await openDatabase(`file:${join(dir, "tokens.db")}`);
});
afterAll(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await tokenCommand(
    db,
    args,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out, err };
}

describe("token storage", () => {
  it("generates 256-bit base64url tokens with the gs_ prefix, all different", () => {
    const tokens = new Set(Array.from({ length: 100 }, generateToken));
    expect(tokens.size).toBe(100);
    for (const t of tokens) expect(looksLikeToken(t)).toBe(true);
    expect(Buffer.from([...tokens][0].slice(3), "base64url").length).toBe(32);
  });

  it("stores the sha256 of the token and never the token itself", async () => {
    const { token, row } = await createToken(db, { name: "storage", scope: "read" });
    expect(row.tokenHash).toBe(createHash("sha256").update(token).digest("hex"));
    expect(row.tokenHash).toBe(hashToken(token));
    expect(JSON.stringify(await db.prisma.apiToken.findMany())).not.toContain(token.slice(9));
    expect(row.prefix).toBe(token.slice(0, 9));
    expect((await findActiveToken(db, token))?.id).toBe(row.id);
  });

  it("rejects bad names and scopes", async () => {
    await expect(createToken(db, { name: "", scope: "read" })).rejects.toThrow(/token name must be 1–100/);
    await expect(createToken(db, { name: "x", scope: "admin" as "read" })).rejects.toThrow(
      /scope must be "read" or "write", got "admin"/,
    );
  });

  it("finds nothing for a revoked token, and refuses to revoke an ambiguous name", async () => {
    const a = await createToken(db, { name: "twin", scope: "read" });
    const b = await createToken(db, { name: "twin", scope: "write" });
    await expect(revokeToken(db, "twin")).rejects.toThrow(
      /2 active tokens match "twin" \(ids .*\); revoke by id/,
    );
    const revoked = await revokeToken(db, String(a.row.id));
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect(await findActiveToken(db, a.token)).toBeNull();
    expect((await findActiveToken(db, b.token))?.scope).toBe("write");
    await expect(revokeToken(db, String(a.row.id))).rejects.toThrow(/no active token with id or name/);
  });
});

describe("gradstream token", () => {
  it("create prints the token once on stdout and stores only its hash", async () => {
    const r = await cli("create", "--scope", "write", "--name", "deploy bot");
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    const token = r.out[0];
    expect(looksLikeToken(token)).toBe(true);
    expect(r.err.join("\n")).toMatch(/created token \d+ "deploy bot" \(scope write\); it is shown only now/);
    expect((await findActiveToken(db, token))?.name).toBe("deploy bot");
  });

  it("list shows ids, names, scopes and prefixes but no secret", async () => {
    const created = await cli("create", "--scope", "read", "--name", "listed");
    const r = await cli("list");
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe("id\tname\tscope\tprefix\tcreated\tlast used\trevoked");
    const line = r.out.find((l) => l.split("\t")[1] === "listed");
    expect(line?.split("\t")[2]).toBe("read");
    expect(line?.split("\t")[3]).toBe(`${created.out[0].slice(0, 9)}…`);
    expect(r.out.join("\n")).not.toContain(created.out[0].slice(9));
  });

  it("revoke by name makes the token unusable", async () => {
    const created = await cli("create", "--scope", "read", "--name", "short-lived");
    const r = await cli("revoke", "short-lived");
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^revoked token \d+ "short-lived" \(scope read\)$/);
    expect(await findActiveToken(db, created.out[0])).toBeNull();
    expect((await listTokens(db)).find((t) => t.name === "short-lived")?.revokedAt).toBeInstanceOf(Date);
  });

  it("exits 2 with a message on a bad scope, a missing name or an unknown token", async () => {
    const scope = await cli("create", "--scope", "admin", "--name", "x");
    const name = await cli("create", "--scope", "read");
    const unknown = await cli("revoke", "nobody");
    expect([scope.code, name.code, unknown.code]).toEqual([2, 2, 2]);
    expect(scope.err[0]).toBe('--scope must be read or write, got "admin"');
    expect(name.err[0]).toMatch(/needs --scope read\|write and --name <name>/);
    expect(unknown.err[0]).toMatch(/no active token with id or name "nobody"/);
  });
});

describe("auth decisions", () => {
  it("is open only for GRADSTREAM_AUTH=open-localhost on localhost, 127.0.0.1 or ::1", () => {
    const open = (host: string, auth = "open-localhost") =>
      !authRequired(loadConfig({ HOST: host, GRADSTREAM_AUTH: auth }));
    expect(
      ["localhost", "127.0.0.1", "::1", "0.0.0.0", "192.168.1.5", "example.com"].map((h) => open(h)),
    ).toEqual([true, true, true, false, false, false]);
    expect(open("localhost", "required")).toBe(false);
    expect(loadConfig({}).auth).toBe("open-localhost");
  });

  it("rejects an unknown GRADSTREAM_AUTH value, naming the accepted ones", () => {
    expect(() => loadConfig({ GRADSTREAM_AUTH: "off" })).toThrow(
      'GRADSTREAM_AUTH must be "required" or "open-localhost", got "off"',
    );
  });

  it("parses Bearer headers case-insensitively and flags other schemes as malformed", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer  abc ")).toBe("abc");
    expect(bearerToken(undefined)).toBeNull();
    expect(bearerToken("")).toBeNull();
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
    expect(bearerToken(42)).toBeUndefined();
  });

  it("gives anonymous write access when open, and refuses missing tokens when required", async () => {
    const open = createAuth(db, { auth: "open-localhost", host: "localhost" });
    const required = createAuth(db, { auth: "required", host: "localhost" });
    expect(await open.authenticate(null)).toBe(ANONYMOUS);
    await expect(required.authenticate(null)).rejects.toBeInstanceOf(AuthError);
    await expect(required.authenticate(null)).rejects.toMatchObject({
      code: "UNAUTHENTICATED",
      closeCode: 4401,
    });
  });

  it("keeps a verified token for cacheMs, then sees its revocation", async () => {
    let now = 1_000_000;
    const auth = createAuth(db, { auth: "required", host: "localhost" }, { cacheMs: 2_000, now: () => now });
    const { token, row } = await createToken(db, { name: "cached", scope: "write" });
    expect(await auth.authenticate(`Bearer ${token}`)).toEqual({
      tokenId: row.id,
      name: "cached",
      scope: "write",
    });
    await revokeToken(db, String(row.id));
    now += 1_000;
    expect((await auth.authenticate(`Bearer ${token}`)).tokenId).toBe(row.id);
    now += 1_500;
    await expect(auth.authenticate(`Bearer ${token}`)).rejects.toThrow("unknown or revoked API token");
  });

  it("records lastUsedAt when a token is used", async () => {
    const auth = createAuth(db, { auth: "required", host: "localhost" });
    const { token, row } = await createToken(db, { name: "touched", scope: "read" });
    await auth.authenticate(`Bearer ${token}`);
    let seen: Date | null = null;
    for (let i = 0; i < 50 && !seen; i++) {
      seen = (await db.prisma.apiToken.findUniqueOrThrow({ where: { id: row.id } })).lastUsedAt;
      if (!seen) await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen).toBeInstanceOf(Date);
  });

  it("writes an open-server banner that cannot be missed, and a warning when no token exists", () => {
    expect(authBanner({ auth: "open-localhost", host: "localhost" }, 0).join("\n")).toMatch(/AUTH OPEN/);
    expect(authBanner({ auth: "required", host: "localhost" }, 2)).toEqual([
      "auth: API tokens required (GRADSTREAM_AUTH=required); 2 active token(s)",
    ]);
  });
});

describe.each([
  ["SQLite", sqliteBackend],
  ["PostgreSQL", postgresBackend],
] as const)("tokens on %s", (_name, make) => {
  it("are created, found by their secret, listed and revoked through the migrated table", async () => {
    const backend = make();
    const other = await openDatabase(await backend.newUrl());
    try {
      const { token, row } = await createToken(other, { name: "ops", scope: "write" });
      expect((await findActiveToken(other, token))?.id).toBe(row.id);
      expect((await listTokens(other)).map((t) => [t.name, t.scope, t.revokedAt])).toEqual([
        ["ops", "write", null],
      ]);
      await revokeToken(other, "ops");
      expect(await findActiveToken(other, token)).toBeNull();
    } finally {
      await other.close();
      await backend.stop();
    }
  });
});
