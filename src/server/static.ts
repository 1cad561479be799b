// The dashboard's static files: `/` is public/index.html, `/assets/...` are public/'s ES modules and
// CSS, and `/assets/vendor/{uplot,graphql-ws}/...` are served straight from the installed packages'
// browser builds (no bundler, no copies in the repo, nothing fetched from the internet).
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "public");

const require = createRequire(import.meta.url);

/** URL prefix → directory; a vendor entry serves only the packages' dist folders. */
const ROOTS: readonly (readonly [string, string])[] = [
  // uPlot's "main" is dist/uPlot.cjs.js; the ESM build and CSS sit beside it.
  ["/assets/vendor/uplot/", dirname(require.resolve("uplot"))],
  // graphql-ws/client's browser build is dist/client.js, which imports only a sibling chunk.
  ["/assets/vendor/graphql-ws/", dirname(require.resolve("graphql-ws/client"))],
  ["/assets/", PUBLIC_DIR],
];

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** Maps a request path to a file inside one of ROOTS, or null (unknown prefix, traversal, odd type). */
export function resolveStatic(path: string): string | null {
  if (path === "/" || path === "/index.html") return join(PUBLIC_DIR, "index.html");
  for (const [prefix, dir] of ROOTS) {
    if (!path.startsWith(prefix)) continue;
    let rel: string;
    try {
      rel = decodeURIComponent(path.slice(prefix.length));
    } catch {
      return null;
    }
    const file = normalize(join(dir, rel));
    // normalize() folds "..": anything that lands outside the root is refused.
    if (!file.startsWith(dir + sep) || rel.includes("\0")) return null;
    return TYPES[extname(file)] ? file : null;
  }
  return null;
}

/** A `routes` handler for createTransport: answers GET/HEAD for the dashboard, else returns false. */
export async function serveStatic(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const path = (req.url ?? "/").split("?")[0];
  if (path !== "/" && path !== "/index.html" && !path.startsWith("/assets/")) return false;
  const file = resolveStatic(path);
  let body: Buffer | null = null;
  if (file) {
    try {
      body = await readFile(file);
    } catch {
      body = null;
    }
  }
  if (!file || !body) {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end(`not found: ${path}\n`);
    return true;
  }
  res.writeHead(200, {
    "content-type": TYPES[extname(file)],
    "content-length": String(body.byteLength),
    // Small files, no build step: revalidate every time so an upgrade never serves a stale module.
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
  });
  res.end(req.method === "HEAD" ? undefined : body);
  return true;
}
