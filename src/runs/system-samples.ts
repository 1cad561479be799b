// System samples of consecutive chunks merged until they span at least MIN_SPAN_MS of training, so a
// run of tiny chunks (K = 1 on a small model: thousands a second) stores and streams one sample per
// ≈ 50 ms instead of one per chunk, while chunks longer than that keep one sample each.
import type { SystemRow } from "../db/index.ts";
import type { SystemSample } from "../train/system.ts";

const MIN_SPAN_MS = 50;

export class SampleBuffer {
  #pending: SystemRow | null = null;

  /** Adds a chunk's sample; returns the merged row once it spans MIN_SPAN_MS, else null. */
  add(firstStep: number, step: number, s: SystemSample): SystemRow | null {
    const p = this.#pending;
    const merged: SystemRow = p
      ? {
          step,
          firstStep: p.firstStep,
          startMs: p.startMs,
          wallMs: p.wallMs + s.wallMs,
          cpuUserMs: p.cpuUserMs + s.cpuUserMs,
          cpuSystemMs: p.cpuSystemMs + s.cpuSystemMs,
          rssBytes: s.rssBytes,
          // Samples over the merged span: each part's samples/s × its span, summed, over the total.
          samplesPerSec:
            (p.samplesPerSec * p.wallMs + s.samplesPerSec * s.wallMs) / (p.wallMs + s.wallMs || 1),
        }
      : { step, firstStep, ...s };
    if (merged.wallMs >= MIN_SPAN_MS) {
      this.#pending = null;
      return merged;
    }
    this.#pending = merged;
    return null;
  }

  /** The last, shorter sample of a run (stored at its end). */
  flush(): SystemRow | null {
    const p = this.#pending;
    this.#pending = null;
    return p;
  }
}
