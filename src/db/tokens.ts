// API tokens: created and revoked by `gradstream token …`, checked by src/server/auth.ts.
//
// A token is "gs_" + 43 base64url characters: 32 bytes (256 bits) from the OS CSPRNG. Only its sha256 is
// stored. A slow password hash (bcrypt, scrypt, argon2) exists to make guessing *low-entropy* secrets
// expensive; a 256-bit random token cannot be guessed or inverted from its sha256, so a slow hash would
// only add latency to every request. Looking the hash up through a unique index also means the server
// never compares token strings itself (no timing side channel on the secret), and a copy of the
// database does not reveal a usable token.
import { createHash, randomBytes } from "node:crypto";
import type { ApiToken } from "../generated/sqlite/client.ts";
import type { Db } from "./index.ts";

export type { ApiToken };
export type TokenScope = "read" | "write";
export const TOKEN_SCOPES: readonly TokenScope[] = ["read", "write"];

const PREFIX = "gs_";
/** "gs_" + base64url of 32 bytes (43 characters, no padding). */
const TOKEN_SHAPE = /^gs_[A-Za-z0-9_-]{43}$/;

export function generateToken(): string {
  return PREFIX + randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** True when the string has the shape of a token this module issues (checked before any DB lookup). */
export function looksLikeToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

export function isScope(s: unknown): s is TokenScope {
  return s === "read" || s === "write";
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,99}$/;

export class TokenError extends Error {
  override name = "TokenError";
}

/** Creates a token; the returned `token` is the only copy of the secret (print it once). */
export async function createToken(
  db: Db,
  input: { name: string; scope: TokenScope },
): Promise<{ token: string; row: ApiToken }> {
  if (!NAME.test(input.name)) {
    throw new TokenError(
      `token name must be 1–100 characters of letters, digits, space, "_", ".", "@" or "-", starting with a letter or digit; got ${JSON.stringify(input.name.slice(0, 120))}`,
    );
  }
  if (!isScope(input.scope)) {
    throw new TokenError(`scope must be "read" or "write", got ${JSON.stringify(String(input.scope))}`);
  }
  const token = generateToken();
  const row = await db.prisma.apiToken.create({
    data: { name: input.name, scope: input.scope, tokenHash: hashToken(token), prefix: token.slice(0, 9) },
  });
  return { token, row };
}

/** The active (not revoked) token with this secret, or null. */
export async function findActiveToken(db: Db, token: string): Promise<ApiToken | null> {
  if (!looksLikeToken(token)) return null;
  const row = await db.prisma.apiToken.findUnique({ where: { tokenHash: hashToken(token) } });
  return row && row.revokedAt === null ? row : null;
}

/** Every token, newest first (revoked ones included, with revokedAt set). */
export function listTokens(db: Db): Promise<ApiToken[]> {
  return db.prisma.apiToken.findMany({ orderBy: { id: "desc" } });
}

export function countActiveTokens(db: Db): Promise<number> {
  return db.prisma.apiToken.count({ where: { revokedAt: null } });
}

/**
 * Revokes the active token with this id (digits) or name. A name shared by several active tokens is
 * refused (revoke by id instead). Returns the revoked row.
 */
export async function revokeToken(db: Db, idOrName: string): Promise<ApiToken> {
  const byId = /^\d{1,15}$/.test(idOrName) ? Number(idOrName) : null;
  const matches = await db.prisma.apiToken.findMany({
    where: {
      revokedAt: null,
      ...(byId !== null ? { OR: [{ id: byId }, { name: idOrName }] } : { name: idOrName }),
    },
  });
  if (matches.length === 0) {
    throw new TokenError(
      `no active token with id or name ${JSON.stringify(idOrName)}; see gradstream token list`,
    );
  }
  if (matches.length > 1) {
    throw new TokenError(
      `${matches.length} active tokens match ${JSON.stringify(idOrName)} (ids ${matches.map((m) => m.id).join(", ")}); revoke by id`,
    );
  }
  return db.prisma.apiToken.update({ where: { id: matches[0].id }, data: { revokedAt: new Date() } });
}

/** Records a use; callers throttle it (src/server/auth.ts writes at most once a minute per token). */
export async function touchToken(db: Db, id: number, at: Date): Promise<void> {
  await db.prisma.apiToken.update({ where: { id }, data: { lastUsedAt: at } });
}
