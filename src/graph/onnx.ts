// ModelProto encode/decode: a small protobuf codec for the subset of onnx.proto the compiler reads
// and writes (no external data, no sparse tensors, no functions). Field numbers are onnx.proto3's.
import type { Attr, Dim, DType, Graph, Model, Node, Tensor, TensorData, ValueInfo } from "./ir.ts";

// ---------- wire format ----------

class Reader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly end = buf.length,
  ) {}

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error("truncated protobuf varint");
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  }

  uint(): number {
    return Number(this.varint());
  }

  /** int64 fields are two's complement varints. */
  int64(): number {
    return Number(BigInt.asIntN(64, this.varint()));
  }

  bytes(): Uint8Array {
    const len = this.uint();
    if (this.pos + len > this.end) throw new Error("truncated protobuf field");
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  sub(): Reader {
    const b = this.bytes();
    return new Reader(b);
  }

  string(): string {
    return new TextDecoder().decode(this.bytes());
  }

  float(): number {
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) {
      const len = this.uint();
      this.pos += len;
    } else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire} at ${this.pos}/${this.end}`);
  }

  *fields(): Generator<[number, number]> {
    while (this.pos < this.end) {
      const key = this.uint();
      yield [key >>> 3, key & 7];
    }
  }
}

class Writer {
  private chunks: Uint8Array[] = [];
  private cur: number[] = [];
  length = 0;

  private flush(): void {
    if (this.cur.length) {
      this.chunks.push(Uint8Array.from(this.cur));
      this.cur = [];
    }
  }

  byte(b: number): void {
    this.cur.push(b);
    this.length++;
  }

  varint(v: bigint | number): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  raw(b: Uint8Array): void {
    this.flush();
    this.chunks.push(b);
    this.length += b.length;
  }

  bytesField(field: number, b: Uint8Array): void {
    this.key(field, 2);
    this.varint(b.length);
    this.raw(b);
  }

  stringField(field: number, s: string): void {
    this.bytesField(field, new TextEncoder().encode(s));
  }

  intField(field: number, v: number): void {
    this.key(field, 0);
    this.varint(v);
  }

  floatField(field: number, v: number): void {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.raw(b);
  }

  message(field: number, w: Writer): void {
    this.bytesField(field, w.finish());
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

// ---------- dtypes ----------

const DTYPE_CODES: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};

export function dtypeFromCode(code: number): DType {
  for (const [k, v] of Object.entries(DTYPE_CODES)) if (v === code) return k as DType;
  throw new Error(
    `unsupported ONNX tensor data type ${code} (supported: float, double, int64, int32, bool, uint8, int8)`,
  );
}

export function dtypeCode(d: DType): number {
  return DTYPE_CODES[d];
}

function bytesPer(d: DType): number {
  return d === "float64" || d === "int64"
    ? 8
    : d === "float32" || d === "int32"
      ? 4
      : d === "float16"
        ? 2
        : 1;
}

function fromRaw(dtype: DType, raw: Uint8Array, count: number): TensorData {
  // A copy with its own ArrayBuffer: `raw` may be a Node Buffer, whose slice() is a view into a shared
  // pool (or the whole file), not a copy.
  const copy = new Uint8Array(raw.subarray(0, count * bytesPer(dtype)));
  switch (dtype) {
    case "float32":
      return new Float32Array(copy.buffer);
    case "float64":
      return new Float64Array(copy.buffer);
    case "int64":
      return new BigInt64Array(copy.buffer);
    case "int32":
      return new Int32Array(copy.buffer);
    case "int8":
      return new Int8Array(copy.buffer);
    default:
      return copy;
  }
}

function toRaw(t: Tensor): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

// ---------- decode ----------

function decodeTensor(r: Reader): Tensor {
  const dims: number[] = [];
  let dtypeNum = 0;
  let name = "";
  let raw: Uint8Array | null = null;
  const floats: number[] = [];
  const int32s: number[] = [];
  const int64s: number[] = [];
  const doubles: number[] = [];
  let external = false;
  for (const [f, w] of r.fields()) {
    if (f === 1) {
      if (w === 2) {
        const s = r.sub();
        while (s.pos < s.end) dims.push(s.int64());
      } else dims.push(r.int64());
    } else if (f === 2) dtypeNum = r.uint();
    else if (f === 8) name = r.string();
    else if (f === 9) raw = r.bytes();
    else if (f === 4) {
      if (w === 2) {
        const s = r.sub();
        while (s.pos < s.end) floats.push(s.float());
      } else floats.push(r.float());
    } else if (f === 5 || f === 7) {
      const target = f === 5 ? int32s : int64s;
      if (w === 2) {
        const s = r.sub();
        while (s.pos < s.end) target.push(s.int64());
      } else target.push(r.int64());
    } else if (f === 10) {
      if (w === 2) {
        const b = r.bytes();
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        for (let i = 0; i < b.length; i += 8) doubles.push(dv.getFloat64(i, true));
      } else {
        doubles.push(new DataView(r.buf.buffer, r.buf.byteOffset + r.pos, 8).getFloat64(0, true));
        r.pos += 8;
      }
    } else if (f === 14) external = r.uint() === 1;
    else r.skip(w);
  }
  if (external)
    throw new Error(`tensor "${name}" uses external data, which is not supported: embed the weights`);
  const dtype = dtypeFromCode(dtypeNum);
  const count = dims.reduce((a, b) => a * b, 1);
  let data: TensorData;
  if (raw) data = fromRaw(dtype, raw, count);
  else if (dtype === "float32") data = Float32Array.from(floats);
  else if (dtype === "float64") data = Float64Array.from(doubles);
  else if (dtype === "int64") data = BigInt64Array.from(int64s.map((x) => BigInt(x)));
  else if (dtype === "int32") data = Int32Array.from(int32s);
  else if (dtype === "int8") data = Int8Array.from(int32s);
  else data = Uint8Array.from(int32s);
  if (data.length !== count) throw new Error(`tensor "${name}" has ${data.length} values for dims [${dims}]`);
  return { name, dtype, dims, data };
}

function decodeAttr(r: Reader): [string, Attr] {
  let name = "";
  let type = 0;
  let f = 0;
  let i = 0;
  let s: Uint8Array = new Uint8Array();
  let t: Tensor | null = null;
  let g: Graph | null = null;
  const floats: number[] = [];
  const intsV: number[] = [];
  const strings: string[] = [];
  for (const [field, w] of r.fields()) {
    if (field === 1) name = r.string();
    else if (field === 20) type = r.uint();
    else if (field === 2) f = r.float();
    else if (field === 3) i = r.int64();
    else if (field === 4) s = r.bytes();
    else if (field === 5) t = decodeTensor(r.sub());
    else if (field === 6) g = decodeGraph(r.sub());
    else if (field === 7) {
      if (w === 2) {
        const sub = r.sub();
        while (sub.pos < sub.end) floats.push(sub.float());
      } else floats.push(r.float());
    } else if (field === 8) {
      if (w === 2) {
        const sub = r.sub();
        while (sub.pos < sub.end) intsV.push(sub.int64());
      } else intsV.push(r.int64());
    } else if (field === 9) strings.push(r.string());
    else r.skip(w);
  }
  switch (type) {
    case 1:
      return [name, { type: "float", f }];
    case 2:
      return [name, { type: "int", i }];
    case 3:
      return [name, { type: "string", s: new TextDecoder().decode(s) }];
    case 4:
      if (!t) throw new Error(`attribute ${name} has no tensor`);
      return [name, { type: "tensor", t }];
    case 5:
      if (!g) throw new Error(`attribute ${name} has no graph`);
      return [name, { type: "graph", g }];
    case 6:
      return [name, { type: "floats", floats }];
    case 7:
      return [name, { type: "ints", ints: intsV }];
    case 8:
      return [name, { type: "strings", strings }];
    default:
      throw new Error(`attribute ${name} has unsupported type ${type}`);
  }
}

function decodeNode(r: Reader): Node {
  const node: Node = { op: "", name: "", domain: "", inputs: [], outputs: [], attrs: {} };
  for (const [f, w] of r.fields()) {
    if (f === 1) node.inputs.push(r.string());
    else if (f === 2) node.outputs.push(r.string());
    else if (f === 3) node.name = r.string();
    else if (f === 4) node.op = r.string();
    else if (f === 7) node.domain = r.string();
    else if (f === 5) {
      const [k, v] = decodeAttr(r.sub());
      node.attrs[k] = v;
    } else r.skip(w);
  }
  return node;
}

function decodeValueInfo(r: Reader): ValueInfo {
  let name = "";
  let dtype: DType = "float32";
  let shape: Dim[] | null = null;
  for (const [f, w] of r.fields()) {
    if (f === 1) name = r.string();
    else if (f === 2) {
      const tr = r.sub();
      for (const [tf, tw] of tr.fields()) {
        if (tf !== 1) {
          tr.skip(tw);
          continue;
        }
        const tt = tr.sub();
        for (const [ef, ew] of tt.fields()) {
          if (ef === 1) dtype = dtypeFromCode(tt.uint());
          else if (ef === 2) {
            shape = [];
            const sr = tt.sub();
            for (const [sf, sw] of sr.fields()) {
              if (sf !== 1) {
                sr.skip(sw);
                continue;
              }
              const dr = sr.sub();
              let dim: Dim = "?";
              for (const [df, dw] of dr.fields()) {
                if (df === 1) dim = dr.int64();
                else if (df === 2) dim = dr.string();
                else dr.skip(dw);
              }
              shape.push(dim);
            }
          } else tt.skip(ew);
        }
      }
    } else r.skip(w);
  }
  return { name, dtype, shape };
}

function decodeGraph(r: Reader): Graph {
  const g: Graph = { name: "", nodes: [], inputs: [], outputs: [], initializers: [] };
  for (const [f, w] of r.fields()) {
    if (f === 1) g.nodes.push(decodeNode(r.sub()));
    else if (f === 2) g.name = r.string();
    else if (f === 5) g.initializers.push(decodeTensor(r.sub()));
    else if (f === 11) g.inputs.push(decodeValueInfo(r.sub()));
    else if (f === 12) g.outputs.push(decodeValueInfo(r.sub()));
    else r.skip(w);
  }
  return g;
}

/** Parses ModelProto bytes; throws a message naming what is wrong for anything that is not one. */
export function decodeModel(bytes: Uint8Array): Model {
  const model: Model = { irVersion: 0, opsets: [], producer: "", graph: emptyGraph() };
  let sawGraph = false;
  try {
    const r = new Reader(bytes);
    for (const [f, w] of r.fields()) {
      if (f === 1) model.irVersion = r.int64();
      else if (f === 2) model.producer = r.string();
      else if (f === 7) {
        model.graph = decodeGraph(r.sub());
        sawGraph = true;
      } else if (f === 8) {
        const o = r.sub();
        let domain = "";
        let version = 0;
        for (const [of, ow] of o.fields()) {
          if (of === 1) domain = o.string();
          else if (of === 2) version = o.int64();
          else o.skip(ow);
        }
        model.opsets.push({ domain, version });
      } else r.skip(w);
    }
  } catch (e) {
    throw new Error(`not a valid ONNX model: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!sawGraph || model.irVersion === 0)
    throw new Error("not a valid ONNX model: no graph or no ir_version");
  return model;
}

function emptyGraph(): Graph {
  return { name: "", nodes: [], inputs: [], outputs: [], initializers: [] };
}

// ---------- encode ----------

function encodeTensor(t: Tensor): Writer {
  const w = new Writer();
  for (const d of t.dims) w.intField(1, d);
  w.intField(2, dtypeCode(t.dtype));
  if (t.name) w.stringField(8, t.name);
  w.bytesField(9, toRaw(t));
  return w;
}

function encodeAttr(name: string, a: Attr): Writer {
  const w = new Writer();
  w.stringField(1, name);
  switch (a.type) {
    case "float":
      w.floatField(2, a.f);
      w.intField(20, 1);
      break;
    case "int":
      w.intField(3, a.i);
      w.intField(20, 2);
      break;
    case "string":
      w.stringField(4, a.s);
      w.intField(20, 3);
      break;
    case "tensor":
      w.message(5, encodeTensor(a.t));
      w.intField(20, 4);
      break;
    case "graph":
      w.message(6, encodeGraph(a.g));
      w.intField(20, 5);
      break;
    case "floats":
      for (const f of a.floats) w.floatField(7, f);
      w.intField(20, 6);
      break;
    case "ints":
      for (const i of a.ints) w.intField(8, i);
      w.intField(20, 7);
      break;
    case "strings":
      for (const s of a.strings) w.stringField(9, s);
      w.intField(20, 8);
      break;
  }
  return w;
}

function encodeNode(n: Node): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  if (n.name) w.stringField(3, n.name);
  w.stringField(4, n.op);
  for (const k of Object.keys(n.attrs)) w.message(5, encodeAttr(k, n.attrs[k]));
  if (n.domain) w.stringField(7, n.domain);
  return w;
}

function encodeValueInfo(v: ValueInfo): Writer {
  const tensorType = new Writer();
  tensorType.intField(1, dtypeCode(v.dtype));
  if (v.shape) {
    const shape = new Writer();
    for (const d of v.shape) {
      const dim = new Writer();
      if (typeof d === "number") dim.intField(1, d);
      else dim.stringField(2, d);
      shape.message(1, dim);
    }
    tensorType.message(2, shape);
  }
  const type = new Writer();
  type.message(1, tensorType);
  const w = new Writer();
  w.stringField(1, v.name);
  w.message(2, type);
  return w;
}

function encodeGraph(g: Graph): Writer {
  const w = new Writer();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.stringField(2, g.name || "graph");
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  for (const v of g.inputs) w.message(11, encodeValueInfo(v));
  for (const v of g.outputs) w.message(12, encodeValueInfo(v));
  return w;
}

export function encodeModel(m: Model): Uint8Array {
  const w = new Writer();
  w.intField(1, m.irVersion);
  w.stringField(2, m.producer || "gradstream");
  w.message(7, encodeGraph(m.graph));
  for (const o of m.opsets) {
    const ow = new Writer();
    if (o.domain) ow.stringField(1, o.domain);
    ow.intField(2, o.version);
    w.message(8, ow);
  }
  return w.finish();
}
