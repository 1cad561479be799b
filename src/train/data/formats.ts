// Pure parsers for the on-disk dataset formats. They take bytes or text (read by files.ts) and
// return typed arrays, so every format is testable with small in-memory files. Their errors never
// quote a file's bytes (cells, header names, label values): no one may read a file through them.

/** An array of examples: `count` samples of `shape`, stored row-major. */
export interface RawImages {
  count: number;
  shape: number[];
  /**
   * Byte-valued sources (IDX ubyte, CIFAR) keep their bytes: a quarter of the memory of float32, and of
   * the page faults that fill it (Fashion-MNIST's 70,000 images are 55 MB, not 220). Normalization maps
   * them to floats as batches are gathered (load.ts).
   */
  data: Float32Array | Uint8Array;
}

// IDX (LeCun's MNIST format): magic = 0x00 0x00 <type> <rank>, then `rank` big-endian uint32 dims,
// then the values big-endian. Types: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float,
// 0x0E double.
const IDX_TYPES: Record<number, { name: string; size: number }> = {
  8: { name: "ubyte", size: 1 },
  9: { name: "byte", size: 1 },
  11: { name: "short", size: 2 },
  12: { name: "int", size: 4 },
  13: { name: "float", size: 4 },
  14: { name: "double", size: 8 },
};

export interface IdxArray {
  dims: number[];
  data: Float64Array | Float32Array | Uint8Array;
}

export function parseIdx(bytes: Uint8Array, what = "IDX file"): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${what} is not an IDX file: it must start with two zero bytes (magic 0x0000TTRR)`);
  }
  const type = IDX_TYPES[bytes[2]];
  if (!type) {
    throw new Error(
      `${what} has unknown IDX element type 0x${bytes[2].toString(16)}; accepted: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double`,
    );
  }
  const rank = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = 4 + 4 * rank;
  if (rank === 0 || bytes.length < header) throw new Error(`${what}: truncated IDX header (rank ${rank})`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = header + count * type.size;
  if (bytes.length !== expected) {
    throw new Error(
      `${what}: IDX dims [${dims.join(", ")}] of ${type.name} need ${expected} bytes, the file has ${bytes.length}`,
    );
  }
  // ubyte stays bytes (a view, no copy); int8 converts in one native typed-array copy
  if (bytes[2] === 0x08) return { dims, data: bytes.subarray(header) };
  if (bytes[2] === 0x09)
    return { dims, data: new Float32Array(new Int8Array(bytes.buffer, bytes.byteOffset + header, count)) };
  const out = type.size === 8 ? new Float64Array(count) : new Float32Array(count);
  for (let i = 0, o = header; i < count; i++, o += type.size) {
    switch (bytes[2]) {
      case 0x0b:
        out[i] = view.getInt16(o, false);
        break;
      case 0x0c:
        out[i] = view.getInt32(o, false);
        break;
      case 0x0d:
        out[i] = view.getFloat32(o, false);
        break;
      default:
        out[i] = view.getFloat64(o, false);
    }
  }
  return { dims, data: out };
}

/** Writes an IDX file (used by tests and fixtures): ubyte for Uint8Array, float otherwise. */
export function encodeIdx(dims: number[], values: Uint8Array | Float32Array): Uint8Array {
  const isByte = values instanceof Uint8Array;
  const size = isByte ? 1 : 4;
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + values.length * size);
  const view = new DataView(out.buffer);
  out[2] = isByte ? 0x08 : 0x0d;
  out[3] = dims.length;
  for (let i = 0; i < dims.length; i++) view.setUint32(4 + 4 * i, dims[i], false);
  if (isByte) out.set(values, header);
  else for (let i = 0; i < values.length; i++) view.setFloat32(header + 4 * i, values[i], false);
  return out;
}

/** IDX image + label files → examples of shape dims[1..] (a [N,H,W] file becomes [N,1,H,W]). */
export function idxExamples(
  images: IdxArray,
  labels: IdxArray,
  what: string,
): { x: RawImages; y: Int32Array } {
  const count = images.dims[0];
  if (labels.dims.length !== 1) {
    throw new Error(`${what}: the labels file must be 1-D, it has dims [${labels.dims.join(", ")}]`);
  }
  if (labels.dims[0] !== count) {
    throw new Error(`${what}: ${count} images but ${labels.dims[0]} labels`);
  }
  let shape = images.dims.slice(1);
  if (shape.length === 2) shape = [1, ...shape];
  if (shape.length === 0) shape = [1];
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = labels.data[i];
    if (!Number.isInteger(v) || v < 0) throw new Error(`${what}: label ${i} is not a class index ≥ 0`);
    y[i] = v;
  }
  const data = images.data instanceof Float64Array ? Float32Array.from(images.data) : images.data;
  return { x: { count, shape, data }, y };
}

// CIFAR-10 binary version: records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, each
// 32×32 row-major), i.e. already channel-first [3,32,32].
export const CIFAR_RECORD = 1 + 3 * 32 * 32;

export function parseCifar10(chunks: { bytes: Uint8Array; name: string }[]): { x: RawImages; y: Int32Array } {
  let count = 0;
  for (const { bytes, name } of chunks) {
    if (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0) {
      throw new Error(
        `${name} is not a CIFAR-10 binary batch: its size ${bytes.length} is not a multiple of ${CIFAR_RECORD} bytes (1 label + 3×32×32 pixels)`,
      );
    }
    count += bytes.length / CIFAR_RECORD;
  }
  const data = new Uint8Array(count * (CIFAR_RECORD - 1));
  const y = new Int32Array(count);
  let n = 0;
  for (const { bytes, name } of chunks) {
    for (let o = 0; o < bytes.length; o += CIFAR_RECORD, n++) {
      const label = bytes[o];
      if (label > 9) throw new Error(`${name}: record ${n} has a label outside CIFAR-10's 0..9`);
      y[n] = label;
      const px = bytes.subarray(o + 1, o + CIFAR_RECORD);
      data.set(px, n * (CIFAR_RECORD - 1));
    }
  }
  return { x: { count, shape: [3, 32, 32], data }, y };
}

export interface CsvOptions {
  /** Column holding the class index: a header name or a 0-based index. */
  labelColumn: string | number;
  /** Whether the first row is a header; "auto" = yes when any of its cells is not a number. */
  header: boolean | "auto";
  delimiter: string;
}

/** CSV with one integer label column and numeric feature columns (no quoting: numbers only). */
export function parseCsv(
  text: string,
  options: CsvOptions,
  what = "CSV file",
): { x: RawImages; y: Int32Array } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new Error(`${what} is empty`);
  const split = (l: string) => l.split(options.delimiter).map((c) => c.trim());
  const first = split(lines[0]);
  const hasHeader =
    options.header === "auto" ? first.some((c) => c === "" || !Number.isFinite(Number(c))) : options.header;
  let labelIndex: number;
  if (typeof options.labelColumn === "number") {
    labelIndex = options.labelColumn;
    if (!Number.isInteger(labelIndex) || labelIndex < 0 || labelIndex >= first.length) {
      throw new Error(
        `${what}: labelColumn ${labelIndex} is out of range; the rows have ${first.length} columns`,
      );
    }
  } else {
    if (!hasHeader)
      throw new Error(
        `${what}: labelColumn "${options.labelColumn}" names a column, but the file has no header row`,
      );
    labelIndex = first.indexOf(options.labelColumn);
    if (labelIndex < 0) {
      throw new Error(
        `${what}: no column named "${options.labelColumn}" in its header row (of ${first.length} columns)`,
      );
    }
  }
  const rows = hasHeader ? lines.slice(1) : lines;
  const features = first.length - 1;
  if (features < 1) throw new Error(`${what}: needs a label column and at least one feature column`);
  const data = new Float32Array(rows.length * features);
  const y = new Int32Array(rows.length);
  rows.forEach((line, r) => {
    const cells = split(line);
    const lineNo = r + (hasHeader ? 2 : 1);
    if (cells.length !== first.length) {
      throw new Error(`${what} line ${lineNo}: ${cells.length} columns, expected ${first.length}`);
    }
    let f = 0;
    cells.forEach((cell, c) => {
      const v = Number(cell);
      if (cell === "" || !Number.isFinite(v)) {
        throw new Error(`${what} line ${lineNo} column ${c + 1}: not a finite number`);
      }
      if (c === labelIndex) {
        if (!Number.isInteger(v) || v < 0) {
          throw new Error(`${what} line ${lineNo}: the label is not a class index (an integer ≥ 0)`);
        }
        y[r] = v;
      } else {
        data[r * features + f++] = v;
      }
    });
  });
  return { x: { count: rows.length, shape: [features], data }, y };
}
