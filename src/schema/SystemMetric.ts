// SystemMetric: what the machine did during one persisted chunk of a TRAINED run (the trainer's CPU
// time and memory, the chunk's wall-clock span and throughput). Queried as Run.systemMetrics and
// streamed with each BatchMetricChunk (`system`), live and on replay.
import type { SystemRow } from "../db/index.ts";
import { ValidationError } from "../errors.ts";
import { BatchMetricChunkType } from "./BatchMetricChunk.ts";
import { builder } from "./builder.ts";
import { DateTimeScalar } from "./scalars.ts";

export const SystemMetricType = builder.objectRef<SystemRow>("SystemMetric").implement({
  description:
    "One chunk's system metrics, measured in the trainer's process: use `time` or `elapsedMs` as a wall-clock x axis",
  fields: (t) => ({
    step: t.exposeInt("step", { description: "The chunk's last step" }),
    firstStep: t.exposeInt("firstStep", { description: "The chunk's first step" }),
    startTime: t.field({
      type: DateTimeScalar,
      description: "When the chunk started training (wall clock)",
      resolve: (r) => new Date(r.startMs),
    }),
    time: t.field({
      type: DateTimeScalar,
      description: "When the chunk ended (wall clock, after its evaluation if one followed it)",
      resolve: (r) => new Date(r.startMs + r.wallMs),
    }),
    wallMs: t.exposeFloat("wallMs", { description: "The chunk's wall-clock span in milliseconds" }),
    msPerBatch: t.float({
      description: "Wall-clock milliseconds per batch of the chunk (wallMs / its steps)",
      resolve: (r) => r.wallMs / (r.step - r.firstStep + 1),
    }),
    cpuUserMs: t.exposeFloat("cpuUserMs", {
      description:
        "User CPU time of the trainer's process during the chunk, ms (all its threads: may exceed wallMs)",
    }),
    cpuSystemMs: t.exposeFloat("cpuSystemMs", {
      description: "Kernel CPU time of the trainer's process during the chunk, ms",
    }),
    cpuUtilization: t.float({
      description: "(cpuUserMs + cpuSystemMs) / wallMs: cores kept busy on average (1 = one full core)",
      resolve: (r) => (r.wallMs > 0 ? (r.cpuUserMs + r.cpuSystemMs) / r.wallMs : 0),
    }),
    rssBytes: t.exposeFloat("rssBytes", {
      description: "Resident memory of the trainer's process at the chunk's end, bytes",
    }),
    samplesPerSec: t.exposeFloat("samplesPerSec", {
      description: "Training samples of the chunk per second of its wall-clock span",
    }),
  }),
});

builder.objectField(BatchMetricChunkType, "system", (t) =>
  t.field({
    type: [SystemMetricType],
    description:
      "System metrics of the trainer chunks that ended within these rows (usually one; empty for EXTERNAL runs and the final chunk)",
    resolve: (c) => c.system ?? [],
  }),
);

const MAX_SYSTEM_ROWS = 10_000;

builder.prismaObjectField("Run", "systemMetrics", (t) =>
  t.field({
    type: [SystemMetricType],
    description:
      "Per-chunk system metrics of the chunks ending in [fromStep, toStep], in step order (empty for EXTERNAL runs)",
    args: {
      fromStep: t.arg.int({ description: "First chunk end step to include (default 0)" }),
      toStep: t.arg.int({ description: "Last chunk end step to include (default: the last)" }),
      first: t.arg.int({
        defaultValue: 1000,
        required: true,
        description: `At most this many chunks, 1 to ${MAX_SYSTEM_ROWS}`,
      }),
    },
    resolve: (r, args, ctx) => {
      if (args.first < 1 || args.first > MAX_SYSTEM_ROWS)
        throw new ValidationError(
          "first",
          `first must be an integer from 1 to ${MAX_SYSTEM_ROWS}, got ${args.first}`,
        );
      const from = Math.max(0, args.fromStep ?? 0);
      const to = Math.min(args.toStep ?? 2 ** 31 - 1, 2 ** 31 - 1);
      return from > to ? [] : ctx.db.systemMetrics(r.id, from, to, args.first);
    },
  }),
);
