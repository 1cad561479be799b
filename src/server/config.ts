// The only reader of process.env: every setting, its default, and its validation live here.
export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
}

function intFrom(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new Error(`${key} must be an integer between 0 and 65535, got "${raw}"`);
  }
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: intFrom(env, "PORT", 4000),
    host: env.HOST || "localhost",
    databaseUrl: env.DATABASE_URL || "file:./data/gradstream.db",
  };
}
