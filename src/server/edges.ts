// The server's edges: which requests a browser may make. Checked before anything else on every HTTP
// request (API, SSE, exports, dashboard files) and on the WebSocket upgrade, so a web page open in
// the user's browser cannot drive a server on localhost:
// - Host must name this server (loopback names with its port, HOST, PUBLIC_URL's host, ALLOWED_HOSTS):
//   a DNS-rebinding page reaches 127.0.0.1 under its own name, which is refused;
// - an Origin, when sent, must be the server's own or listed in CORS_ORIGINS (browsers apply no CORS
//   to WebSockets, so the upgrade is checked the same way); requests without one (curl, the CLI,
//   servers) are not browsers' cross-site requests and are served;
// - a body a page can POST without a CORS preflight (urlencoded, text/plain, no Content-Type) is refused,
//   and multipart (uploads) must carry the x-graphql-yoga-csrf header, which forces a preflight.
import type { IncomingHttpHeaders } from "node:http";
import type { Config } from "./config.ts";

/** The header a multipart upload must carry (the name graphql-yoga's CSRF-prevention plugin uses). */
export const CSRF_HEADER = "x-graphql-yoga-csrf";

export interface EdgeRefusal {
  code: "FORBIDDEN_HOST" | "FORBIDDEN_ORIGIN" | "FORBIDDEN_CONTENT_TYPE";
  message: string;
}

export type EdgeConfig = Pick<Config, "host" | "allowedHosts" | "publicUrl" | "corsOrigins">;

const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];
const WILDCARD_BINDS = new Set(["0.0.0.0", "::", "[::]"]);
const SIMPLE_TYPES = ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"];

/** "Name:port" split into a lower-case name (IPv6 kept in brackets) and a port (80/443 if absent). */
function splitHost(value: string, defaultPort: number): { name: string; port: number } | null {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value.trim().toLowerCase());
  if (!m) return null;
  return { name: m[1], port: m[2] === undefined ? defaultPort : Number(m[2]) };
}

function bracket(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

export interface Edges {
  /** The refusal for this request, or null when it may be served. */
  check(method: string, headers: IncomingHttpHeaders, transport: "http" | "websocket"): EdgeRefusal | null;
}

/** `port` is read at each check: with PORT=0 it is known only once the server listens. */
export function createEdges(config: EdgeConfig, port: () => number): Edges {
  const publicHost = config.publicUrl ? new URL(config.publicUrl) : null;
  const publicOrigin = publicHost?.origin.toLowerCase() ?? null;

  function hostAllowed(value: string): boolean {
    const h = splitHost(value, 80);
    if (!h) return false;
    const own = port();
    if (LOOPBACK.includes(h.name) && h.port === own) return true;
    const bound = bracket(config.host.toLowerCase());
    if (!WILDCARD_BINDS.has(bound) && h.name === bound && h.port === own) return true;
    if (publicHost) {
      const p = publicHost.port ? Number(publicHost.port) : publicHost.protocol === "https:" ? 443 : 80;
      if (h.name === publicHost.hostname.toLowerCase() && (h.port === p || !value.includes(":"))) return true;
    }
    for (const entry of config.allowedHosts) {
      const a = splitHost(entry, -1);
      if (a && a.name === h.name && (a.port === -1 || a.port === h.port)) return true;
    }
    return false;
  }

  function originAllowed(origin: string, host: string | undefined): boolean {
    const o = origin.toLowerCase();
    if (config.corsOrigins === "*" || config.corsOrigins.includes(o)) return true;
    if (publicOrigin && o === publicOrigin) return true;
    if (!host) return false;
    // Same origin: the page was loaded from this very Host (already checked above).
    for (const scheme of ["http", "https"]) {
      try {
        if (new URL(`${scheme}://${host}`).origin.toLowerCase() === o) return true;
      } catch {
        // An unparsable Host cannot be the page's origin.
      }
    }
    return false;
  }

  return {
    check(method, headers, transport) {
      const host = headers.host;
      if (host !== undefined && !hostAllowed(host)) {
        return {
          code: "FORBIDDEN_HOST",
          message: `Host "${host}" does not name this server: it answers to localhost, 127.0.0.1 and [::1] on port ${port()}, HOST, PUBLIC_URL's host and the names in ALLOWED_HOSTS (this blocks DNS rebinding); add the name to ALLOWED_HOSTS to serve it`,
        };
      }
      const origin = headers.origin;
      if (origin !== undefined && !originAllowed(origin, host)) {
        return {
          code: "FORBIDDEN_ORIGIN",
          message: `Origin "${origin}" may not use this server${transport === "websocket" ? "'s WebSocket" : ""}: only its own origin and those listed in CORS_ORIGINS may (this stops other web pages in your browser from driving it); add the origin to CORS_ORIGINS, and require API tokens (GRADSTREAM_AUTH=required) before opening the server to other origins`,
        };
      }
      // Only POST: GET/HEAD never mutate here, and browsers preflight every other method (graphql-sse's
      // reservation PUT, DELETE) whatever its body.
      if (transport === "http" && method === "POST") {
        const type = (headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
        const simple = type === "" || SIMPLE_TYPES.includes(type);
        if (simple && !(type === "multipart/form-data" && headers[CSRF_HEADER] !== undefined)) {
          return {
            code: "FORBIDDEN_CONTENT_TYPE",
            message: `a ${method} with Content-Type "${type || "(none)"}" can be sent by any web page without a CORS preflight, so it is refused: send application/json, or for uploads multipart/form-data with the header "${CSRF_HEADER}: 1" (no setting relaxes this)`,
          };
        }
      }
      return null;
    },
  };
}
