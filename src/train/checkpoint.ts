// Checkpoint (de)serialization: the training state a run needs to continue exactly where it stopped.
//
// Layout (little-endian): "GSCK", u32 version, u32 header length, the header as UTF-8 JSON, zero
// padding to a multiple of 4, then every tensor's float32 values back to back in header order.
// The data order is a pure function of (seed, epoch) (src/train/data/README.md), so no RNG state is
// stored; dropout masks are seeded from the global step inside the graph. The noise probe's running
// state (optional: absent when the run had no probe, or in checkpoints written before it was kept)
// follows the tensors: its scalars in the header, the segment's batch losses as float32 after the data.
// Resuming from it gives the same diagnostics as the run that was not interrupted.
import type { NoiseScaleState } from "../stats/noise.ts";

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

/** The noise probe's state between probes (src/train/probe.ts). */
export interface NoiseProbeState {
  /** The gradient noise scale's moving averages and how many probes they hold. */
  scale: NoiseScaleState;
  /** The last probe's clean loss (the drift of the next segment starts from it). */
  lastClean: number | null;
  /** The training batch losses since the last probe (float32, as the Loop returned them). */
  losses: Float32Array;
}

export interface CheckpointState {
  /** Steps completed: the global step the run continues with. */
  step: number;
  /** The epoch of that next step. */
  epoch: number;
  tensors: Record<string, Float32Array>;
  /** Running aggregates of the epoch in progress (null at an epoch boundary). */
  epochAcc: EpochAccumulator | null;
  /** The noise probe's state; absent or null when there is none. */
  noise?: NoiseProbeState | null;
}

interface Header {
  step: number;
  epoch: number;
  tensors: { name: string; length: number }[];
  epochAcc: EpochAccumulator | null;
  /** The probe's state with its losses' count (the values follow the tensors). */
  noise?: Omit<NoiseProbeState, "losses"> & { losses: number };
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
  const noise = state.noise;
  if (noise) header.noise = { scale: noise.scale, lastClean: noise.lastClean, losses: noise.losses.length };
  const arrays = [...names.map((n) => state.tensors[n]), ...(noise ? [noise.losses] : [])];
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = Math.ceil((12 + json.length) / 4) * 4;
  const total = dataStart + arrays.reduce((s, t) => s + t.byteLength, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  let offset = dataStart;
  for (const t of arrays) {
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
  const read = (name: string, length: number) => {
    const end = offset + length * 4;
    if (end > bytes.length) throw new Error(`checkpoint data for "${name}" is truncated`);
    // Copy: the source may be unaligned or shared (a Buffer from the database driver).
    const values = new Float32Array(bytes.slice(offset, end).buffer);
    offset = end;
    return values;
  };
  const tensors: Record<string, Float32Array> = {};
  for (const t of header.tensors) tensors[t.name] = read(t.name, t.length);
  const h = header.noise;
  const noise = h ? { scale: h.scale, lastClean: h.lastClean, losses: read("noise losses", h.losses) } : null;
  return { step: header.step, epoch: header.epoch, tensors, epochAcc: header.epochAcc, noise };
}
