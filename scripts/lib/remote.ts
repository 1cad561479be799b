// What the client commands (runs, watch) share: --url/--token parsing and one GraphQL-over-HTTP call.
import { parseArgs } from "node:util";

export const DEFAULT_URL = "http://localhost:4000/graphql";

export class UsageError extends Error {}

export interface Remote {
  url: string;
  token: string | undefined;
  positionals: string[];
  flags: Record<string, string | boolean | undefined>;
}

export function parseRemoteArgs(
  args: string[],
  extra: Record<string, { type: "string" | "boolean" }> = {},
): Remote | "help" {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        url: { type: "string" },
        token: { type: "string" },
        help: { type: "boolean", short: "h" },
        ...extra,
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  if (flags.help) return "help";
  const url = typeof flags.url === "string" ? flags.url : DEFAULT_URL;
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--url must be an http(s) URL, got "${url}"`);
  return {
    url,
    token: typeof flags.token === "string" ? flags.token : undefined,
    positionals: parsed.positionals,
    flags,
  };
}

export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function graphql<T>(
  remote: Remote,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(remote.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        // Required on multipart uploads (it forces a browser's CORS preflight); harmless on JSON.
        "x-graphql-yoga-csrf": "1",
        ...authHeaders(remote.token),
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new Error(
      `cannot reach gradstream at ${remote.url} (${why}); is \`npm start\` running? (--url to change)`,
    );
  }
  const body = (await res.json().catch(() => null)) as { data?: T; errors?: { message: string }[] } | null;
  if (!body) throw new Error(`${remote.url} answered HTTP ${res.status} without a GraphQL response`);
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join("; "));
  if (!body.data) throw new Error(`${remote.url} answered without data`);
  return body.data;
}
