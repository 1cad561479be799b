// Byte samples (IDX ubyte images, CIFAR-10) decoded to their normalized float32 values by a small
// WebAssembly loop. It does what readSample's JS loop does (value q of a sample reads
// table[⌊q / per⌋·256 + byte q]) and copies each table entry as its 32-bit pattern, so the floats are
// the same bits. The JS loop costs 3.4–5 ns a value, because V8 keeps a bounds check and two float
// conversions in every iteration. The WebAssembly loop, with the copies in and out, costs 1.1–1.5 ns,
// measured over one Fashion-MNIST epoch in shuffled order (60,000 × 784 values). A LeNet-5 run reads
// every image once an epoch, so this is about 150 ms an epoch.
//
// The decoder's memory holds only the table and one sample (its bytes, copied in, and its floats): the
// samples stay where they are. Holding them all in it cost a 47 MB copy for Fashion-MNIST at set-up,
// paid in 4 KB page faults (WebAssembly memory gets no transparent huge pages), 0.03–0.3 s depending on
// the host's load. Where WebAssembly is missing (node --jitless) there is no decoder and readSample
// keeps its JS loop.

/*
The module, in WebAssembly's text format; MODULE below is its binary form, opcode by opcode.

(module
  (import "m" "memory" (memory 0))
  (func (export "decode")
    (param $src i32) (param $dst i32) (param $n i32) (param $table i32) (param $per i32)
    (local $end i32) (local $group i32)
    (local.set $end (i32.add (local.get $src) (local.get $n)))
    (block $done
      (loop $groups
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $group (i32.add (local.get $src) (local.get $per)))
        (loop $values
          (i32.store (local.get $dst)
            (i32.load (i32.add (local.get $table)
              (i32.shl (i32.load8_u (local.get $src)) (i32.const 2)))))
          (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
          (br_if $values
            (i32.lt_u (local.tee $src (i32.add (local.get $src) (i32.const 1))) (local.get $group))))
        (local.set $table (i32.add (local.get $table) (i32.const 1024)))
        (br $groups)))))
*/

const I32 = 0x7f;
const [GET, SET, TEE] = [0x20, 0x21, 0x22];
const [BLOCK, LOOP, BR, BR_IF, END, VOID] = [0x02, 0x03, 0x0c, 0x0d, 0x0b, 0x40];
const [CONST, ADD, SHL, GE_U, LT_U] = [0x41, 0x6a, 0x74, 0x4f, 0x49];
const [LOAD, LOAD8_U, STORE] = [0x28, 0x2d, 0x36];
// locals: the five parameters, then $end and $group
const [SRC, DST, N, TABLE, PER, END_AT, GROUP] = [0, 1, 2, 3, 4, 5, 6];

const BODY = [
  ...[1, 2, I32], // two i32 locals
  ...[GET, SRC, GET, N, ADD, SET, END_AT],
  ...[BLOCK, VOID, LOOP, VOID],
  ...[GET, SRC, GET, END_AT, GE_U, BR_IF, 1],
  ...[GET, SRC, GET, PER, ADD, SET, GROUP],
  ...[LOOP, VOID],
  ...[GET, DST, GET, TABLE, GET, SRC, LOAD8_U, 0, 0, CONST, 2, SHL, ADD, LOAD, 2, 0, STORE, 2, 0],
  ...[GET, DST, CONST, 4, ADD, SET, DST],
  ...[GET, SRC, CONST, 1, ADD, TEE, SRC, GET, GROUP, LT_U, BR_IF, 0],
  END,
  ...[GET, TABLE, CONST, 0x80, 0x08, ADD, SET, TABLE], // 1024, signed LEB128
  ...[BR, 0, END, END, END],
];

/** One section: its id, its size (a single LEB128 byte: every section here is under 128 bytes), its body. */
function section(id: number, body: number[]): number[] {
  if (body.length > 127) throw new Error("internal: byte decoder section over 127 bytes");
  return [id, body.length, ...body];
}

const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];

const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...section(1, [1, 0x60, 5, I32, I32, I32, I32, I32, 0]), // type 0: (i32 × 5) → ()
  ...section(2, [1, ...name("m"), ...name("memory"), 0x02, 0x00, 0x00]), // import memory, min 0 pages
  ...section(3, [1, 0]), // function 0 has type 0
  ...section(7, [1, ...name("decode"), 0x00, 0]), // export function 0
  ...section(10, [1, BODY.length, ...BODY]),
]);

/** WebAssembly memory comes in pages of 64 KiB. */
const PAGE = 65536;

type Decode = (src: number, dst: number, n: number, table: number, per: number) => void;

let module: WebAssembly.Module | null | undefined;

function decoderModule(): WebAssembly.Module | null {
  if (module === undefined) module = typeof WebAssembly === "object" ? new WebAssembly.Module(MODULE) : null;
  return module;
}

export interface ByteDecoder {
  /** Writes sample j of `bytes` ([count, features] row-major) into dst from `at`, normalized. */
  read(bytes: Uint8Array, j: number, dst: Float32Array, at: number): void;
}

/**
 * A decoder for samples of `features` bytes with `table` (groups × 256 floats, one group per `per`
 * consecutive features), or null where WebAssembly is not there (readSample then decodes in JS).
 */
export function byteDecoder(table: Float32Array, features: number, per: number): ByteDecoder | null {
  const wasm = decoderModule();
  if (!wasm) return null;
  // memory: the table, one decoded sample, one sample's bytes
  const rowAt = table.byteLength;
  const bytesAt = rowAt + features * 4;
  const pages = Math.ceil((bytesAt + features) / PAGE);
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  } catch {
    return null; // over WebAssembly's 4 GiB, or no address space left for it: decode in JS
  }
  const decode = new WebAssembly.Instance(wasm, { m: { memory } }).exports.decode as Decode;
  new Float32Array(memory.buffer, 0, table.length).set(table);
  const row = new Float32Array(memory.buffer, rowAt, features);
  const staged = new Uint8Array(memory.buffer, bytesAt, features);
  return {
    read(bytes, j, dst, at) {
      staged.set(bytes.subarray(j * features, (j + 1) * features));
      decode(bytesAt, rowAt, features, 0, per);
      dst.set(row, at);
    },
  };
}
