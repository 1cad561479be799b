// The architecture rules the code review checks, measured: run `npx tsx scripts/check-architecture.ts`
// (test/architecture.test.ts runs the same checks). Prints one line per rule with the worst offender.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

const ROOT = join(import.meta.dirname, "..");

function files(dir: string, ext: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
}

function lines(sf: ts.SourceFile, node: ts.Node): number {
  return (
    sf.getLineAndCharacterOfPosition(node.getEnd()).line -
    sf.getLineAndCharacterOfPosition(node.getStart()).line +
    1
  );
}

export interface Measure {
  where: string;
  lines: number;
}

/** Every `resolve`/`subscribe` function of the GraphQL schema, by length. */
export function resolverLengths(): Measure[] {
  const out: Measure[] = [];
  for (const file of files("src/schema", ".ts")) {
    const sf = parse(file);
    const visit = (n: ts.Node): void => {
      if (
        ts.isPropertyAssignment(n) &&
        ts.isIdentifier(n.name) &&
        (n.name.text === "resolve" || n.name.text === "subscribe") &&
        (ts.isArrowFunction(n.initializer) || ts.isFunctionExpression(n.initializer))
      ) {
        const line = sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
        out.push({ where: `${file}:${line}`, lines: lines(sf, n.initializer) });
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out.sort((a, b) => b.lines - a.lines);
}

/** Every named function (declarations, methods, functions assigned to a name) of public/js, by length. */
export function dashboardFunctionLengths(): Measure[] {
  const out: Measure[] = [];
  for (const file of files("public/js", ".js")) {
    const sf = parse(file);
    const visit = (n: ts.Node): void => {
      let name: string | null = null;
      if (ts.isFunctionDeclaration(n) && n.name) name = n.name.text;
      else if (ts.isMethodDeclaration(n) && ts.isIdentifier(n.name)) name = n.name.text;
      else if (
        ts.isVariableDeclaration(n) &&
        ts.isIdentifier(n.name) &&
        n.initializer &&
        (ts.isArrowFunction(n.initializer) || ts.isFunctionExpression(n.initializer))
      )
        name = n.name.text;
      if (name) {
        const line = sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
        out.push({ where: `${file}:${line} ${name}`, lines: lines(sf, n) });
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out.sort((a, b) => b.lines - a.lines);
}

export function runsFileLengths(): Measure[] {
  return files("src/runs", ".ts")
    .map((f) => ({ where: f, lines: readFileSync(join(ROOT, f), "utf8").split("\n").length - 1 }))
    .sort((a, b) => b.lines - a.lines);
}

/** Imports of src/schema files that reach into src/server or src/train. */
export function schemaUpwardImports(): string[] {
  const out: string[] = [];
  for (const file of files("src/schema", ".ts")) {
    for (const s of parse(file).statements) {
      if ((ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) && s.moduleSpecifier) {
        const spec = (s.moduleSpecifier as ts.StringLiteral).text;
        if (/^\.\.\/(server|train)\//.test(spec)) out.push(`${file} imports ${spec}`);
      }
    }
  }
  return out;
}

/** `protected` members and `extends` of another manager class in src/runs. */
export function runsInheritance(): string[] {
  const out: string[] = [];
  for (const file of files("src/runs", ".ts")) {
    const sf = parse(file);
    const visit = (n: ts.Node): void => {
      if (n.kind === ts.SyntaxKind.ProtectedKeyword) out.push(`${file}: protected`);
      if (ts.isClassDeclaration(n))
        for (const h of n.heritageClauses ?? [])
          if (h.token === ts.SyntaxKind.ExtendsKeyword)
            for (const t of h.types)
              if (!/Error$/.test(t.expression.getText()))
                out.push(`${file}: extends ${t.expression.getText()}`);
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

if (process.argv[1]?.endsWith("check-architecture.ts")) {
  const top = (m: Measure[]) => (m[0] ? `${m[0].lines} lines (${m[0].where})` : "none");
  console.log(`longest resolver: ${top(resolverLengths())}`);
  console.log(`longest src/runs file: ${top(runsFileLengths())}`);
  console.log(`longest public/js function: ${top(dashboardFunctionLengths())}`);
  console.log(`src/schema imports of src/server or src/train: ${schemaUpwardImports().length}`);
  console.log(`protected or subclassing in src/runs: ${runsInheritance().length}`);
}
