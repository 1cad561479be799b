// Narrowing helpers for JSON columns (Prisma's Json is `unknown`-like): never `any`.

export function intList(v: unknown): number[] {
  return Array.isArray(v) ? v.filter((x): x is number => typeof x === "number") : [];
}

export function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Opaque Relay cursors: base64url of "<kind>:<integer>". */
export function encodeCursor(kind: string, n: number): string {
  return Buffer.from(`${kind}:${n}`).toString("base64url");
}

export function decodeCursor(kind: string, cursor: string | null | undefined): number | null {
  if (cursor === null || cursor === undefined) return null;
  const text = Buffer.from(cursor, "base64url").toString();
  const m = /^([a-z]+):(-?\d{1,15})$/.exec(text);
  if (!m || m[1] !== kind) return Number.NaN;
  return Number(m[2]);
}
