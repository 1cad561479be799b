// A stable, human-readable text form of a graph for golden files: one line per input, initializer
// (dtype and shape; small values inline), node and output; subgraphs indented beneath their node.
import type { Attr, Graph, Tensor, ValueInfo } from "./ir.ts";

function fmtNum(v: number | bigint): string {
  if (typeof v === "bigint") return v.toString();
  return Number.isInteger(v) ? String(v) : Number(v.toPrecision(7)).toString();
}

function fmtTensor(t: Omit<Tensor, "name">): string {
  const vals =
    t.data.length <= 8 ? ` = [${Array.from(t.data as ArrayLike<number | bigint>, fmtNum).join(", ")}]` : "";
  return `${t.dtype}[${t.dims.join(",")}]${vals}`;
}

function fmtAttr(a: Attr, indent: string): string {
  switch (a.type) {
    case "int":
      return String(a.i);
    case "float":
      return fmtNum(a.f);
    case "string":
      return JSON.stringify(a.s);
    case "ints":
      return `[${a.ints.join(",")}]`;
    case "floats":
      return `[${a.floats.map(fmtNum).join(",")}]`;
    case "strings":
      return JSON.stringify(a.strings);
    case "tensor":
      return fmtTensor(a.t);
    case "graph":
      return `\n${dumpGraph(a.g, `${indent}    `)}`;
  }
}

function fmtValue(v: ValueInfo): string {
  return `${v.name}: ${v.dtype}${v.shape ? `[${v.shape.join(",")}]` : ""}`;
}

export function dumpGraph(g: Graph, indent = ""): string {
  const lines: string[] = [`${indent}graph ${g.name}`];
  for (const v of g.inputs) lines.push(`${indent}  input ${fmtValue(v)}`);
  for (const t of g.initializers) lines.push(`${indent}  init ${t.name}: ${fmtTensor(t)}`);
  for (const n of g.nodes) {
    const attrs = Object.keys(n.attrs)
      .sort()
      .map((k) => `${k}=${fmtAttr(n.attrs[k], indent)}`);
    lines.push(
      `${indent}  ${n.outputs.join(", ")} = ${n.op}(${n.inputs.join(", ")})${attrs.length ? ` {${attrs.join(" ")}}` : ""}`,
    );
  }
  for (const v of g.outputs) lines.push(`${indent}  output ${fmtValue(v)}`);
  return lines.join("\n");
}
