// System metrics of a chunk, measured where the trainer runs (its thread or process): the process's CPU
// time and resident memory, and the chunk's wall-clock span, so charts can use wall time as the x axis
// and show what the machine did. process.cpuUsage() counts every thread of the trainer's process.
export interface SystemSample {
  /** Wall-clock start of the chunk, Unix ms. */
  startMs: number;
  /** The chunk's span, ms (monotonic clock: exact to the µs, unlike a difference of Unix ms). */
  wallMs: number;
  /** CPU time the trainer's process spent during the chunk, ms. */
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Resident set size of the trainer's process at the chunk's end, bytes. */
  rssBytes: number;
  /** Training samples of the chunk per second of its wall-clock span. */
  samplesPerSec: number;
}

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
