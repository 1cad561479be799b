// System metrics of a chunk, measured where the trainer runs (its thread or process): the process's CPU
// time and resident memory, and the chunk's wall-clock span, so charts can use wall time as the x axis
// and show what the machine did. process.cpuUsage() counts every thread of the trainer's process.
import type { SystemRow } from "../db/system.ts";

/** A chunk's sample: the stored row (src/db/system.ts) without the step range the caller adds. */
export type SystemSample = Omit<SystemRow, "step" | "firstStep">;

/** Starts measuring a chunk; `end(samples)` gives its sample. */
export function startMeter(): { end(samples: number): SystemSample } {
  const startMs = Date.now();
  const t0 = performance.now();
  const cpu = process.cpuUsage();
  return {
    end(samples: number): SystemSample {
      const used = process.cpuUsage(cpu);
      const span = performance.now() - t0;
      return {
        startMs,
        wallMs: span,
        cpuUserMs: used.user / 1000,
        cpuSystemMs: used.system / 1000,
        rssBytes: process.memoryUsage.rss(),
        samplesPerSec: span > 0 ? (samples * 1000) / span : 0,
      };
    },
  };
}
