// The one GraphQL-over-HTTP client of the tests: a POST with JSON, the status, body and headers back.
export interface GqlError {
  message: string;
  extensions?: Record<string, unknown>;
}

export interface GqlBody<T = Record<string, unknown>> {
  data?: T | null;
  errors?: GqlError[];
}

export interface PostOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | null;
  /** A raw Authorization header (wins over token). */
  authorization?: string;
  headers?: Record<string, string>;
}

export async function postGql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  opts: PostOptions = {},
): Promise<{ status: number; body: GqlBody<T>; headers: Headers }> {
  const headers: Record<string, string> = { "content-type": "application/json", ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.authorization) headers.authorization = opts.authorization;
  const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  return { status: res.status, body: (await res.json()) as GqlBody<T>, headers: res.headers };
}

/** The data of a response that must have some; throws with the errors otherwise. */
export async function gqlData<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  opts: PostOptions = {},
): Promise<T> {
  const { body } = await postGql<T>(url, query, variables, opts);
  if (!body.data || body.errors?.length) throw new Error(JSON.stringify(body.errors ?? body));
  return body.data;
}
