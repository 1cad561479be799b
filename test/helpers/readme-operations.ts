// Every GraphQL operation the README shows: fenced graphql blocks, operations inside other fenced
// blocks (curl's JSON and query strings, JavaScript and TypeScript template literals, Python strings)
// and inline code spans that hold a selection. test/readme.test.ts validates each against the schema
// and runs the read-only ones against a live server.

export interface ShownOperation {
  /** Where it is, for the failure message: "README.md:401 (inline)". */
  where: string;
  source: string;
}

/** Index of the "}" that closes the "{" at `open`, skipping GraphQL strings; -1 when unbalanced. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

/** The operations a code block embeds: `query|mutation|subscription … {…}` and curl's "query":"…". */
function embedded(body: string): { offset: number; source: string }[] {
  const found: { offset: number; source: string }[] = [];
  for (const m of body.matchAll(/(?<![\w$])(?:query|mutation|subscription)(?=[\s({])[^{}"'`\n]*\{/g)) {
    const end = closing(body, m.index + m[0].length - 1);
    if (end > 0) found.push({ offset: m.index, source: body.slice(m.index, end + 1) });
  }
  for (const m of body.matchAll(/"query"\s*:\s*"((?:[^"\\]|\\.)*)"/g)) {
    found.push({ offset: m.index, source: JSON.parse(`"${m[1]}"`) as string });
  }
  return found;
}

export function readmeOperations(readme: string): ShownOperation[] {
  const line = (offset: number) => readme.slice(0, offset).split("\n").length;
  const shown: ShownOperation[] = [];
  const fence = /```(\w*)\n([\s\S]*?)```/g;
  for (const m of readme.matchAll(fence)) {
    const start = m.index + 4 + m[1].length;
    if (m[1] === "graphql") shown.push({ where: `README.md:${line(start)} (graphql block)`, source: m[2] });
    else
      for (const op of embedded(m[2]))
        shown.push({ where: `README.md:${line(start + op.offset)} (${m[1]} block)`, source: op.source });
  }
  // Inline code outside the fences: a span that is an operation or a bare selection set (JSON objects,
  // which start with `{ "`, are not GraphQL).
  const prose = readme.replace(fence, (block) => block.replace(/[^\n]/g, " "));
  for (const m of prose.matchAll(/(?<!`)`([^`]+)`(?!`)/g)) {
    const text = m[1].replace(/\s+/g, " ").trim();
    const operation = /^(query|mutation|subscription)[\s({]/.test(text);
    const selection = /^\{/.test(text) && !/^\{\s*"/.test(text) && text.endsWith("}");
    if (operation || selection) shown.push({ where: `README.md:${line(m.index)} (inline)`, source: text });
  }
  // A curl that sends the same operation two ways (a JSON body and a form field) counts once.
  return shown.filter((op, i) => shown.findIndex((o) => o.source === op.source) === i);
}
