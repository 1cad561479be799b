// Checkpoint (de)serialization: the training state a run needs to continue exactly where it stopped.
//
// Layout (little-endian): "GSCK", u32 version, u32 header length, the header as UTF-8 JSON, zero
// padding to a multiple of 4, then every tensor's float32 values back to back in header order.
// The data order is a pure function of (seed, epoch) (src/train/data/README.md), so no RNG state is
// stored; dropout masks are seeded from the global step inside the graph.

export interface EpochAccumulator {
  /** Σ of batch losses / accuracies weighted by batch size, their sample count, and the batch count. */
  lossSum: number;
  lossSqSum: number;
  lossMin: number;
  lossMax: number;
  accuracySum: number;
  samples: number;
  batches: number;
  timeMs: number;
}

export interface CheckpointState {
  /** Steps completed: the global step the run continues with. */
  step: number;
  /** The epoch of that next step. */
  epoch: number;
  tensors: Record<string, Float32Array>;
  /** Running aggregates of the epoch in progress (null at an epoch boundary). */
  epochAcc: EpochAccumulator | null;
}

interface Header {
  step: number;
  epoch: number;
  tensors: { name: string; length: number }[];
  epochAcc: EpochAccumulator | null;
}

const MAGIC = 0x4b435347; // "GSCK" read as a little-endian u32
const VERSION = 1;

export function encodeCheckpoint(state: CheckpointState): Uint8Array {
  const names = Object.keys(state.tensors);
  const header: Header = {
    step: state.step,
    epoch: state.epoch,
    tensors: names.map((name) => ({ name, length: state.tensors[name].length })),
    epochAcc: state.epochAcc,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = Math.ceil((12 + json.length) / 4) * 4;
  const total = dataStart + names.reduce((s, n) => s + state.tensors[n].length * 4, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  let offset = dataStart;
  for (const n of names) {
    const t = state.tensors[n];
    out.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), offset);
    offset += t.byteLength;
  }
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): CheckpointState {
  if (bytes.length < 12) throw new Error(`checkpoint is truncated (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new Error("not a gradstream checkpoint (bad magic)");
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new Error(`checkpoint version ${version} is not supported (expected 1)`);
  const len = view.getUint32(8, true);
  if (12 + len > bytes.length) throw new Error("checkpoint header is truncated");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as Header;
  let offset = Math.ceil((12 + len) / 4) * 4;
  const tensors: Record<string, Float32Array> = {};
  for (const t of header.tensors) {
    const end = offset + t.length * 4;
    if (end > bytes.length) throw new Error(`checkpoint data for "${t.name}" is truncated`);
    // Copy: the source may be unaligned or shared (a Buffer from the database driver).
    tensors[t.name] = new Float32Array(bytes.slice(offset, end).buffer);
    offset = end;
  }
  return { step: header.step, epoch: header.epoch, tensors, epochAcc: header.epochAcc };
}
