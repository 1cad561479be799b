// The GraphQL schema: imports every type file (each registers itself on the builder), then builds.
import { builder } from "./builder.ts";
import "./scalars.ts";
import "./Error.ts";
import "./NotFoundError.ts";
import "./ValidationError.ts";
import "./UnsupportedModelError.ts";
import "./Metric.ts";
import "./Model.ts";
import "./Dataset.ts";
import "./BatchMetric.ts";
import "./History.ts";
import "./Fluctuation.ts";
import "./EpochMetric.ts";
import "./Checkpoint.ts";
import "./RunProgress.ts";
import "./ExecutionProvider.ts";
import "./Run.ts";
import "./StartRunInput.ts";
import "./Experiment.ts";
import "./RunSeries.ts";
import "./BatchMetricChunk.ts";
import "./RunEvent.ts";
import "./RunsChangedEvent.ts";
import "./Sweep.ts";
import "./ExternalRun.ts";

export const schema = builder.toSchema({ sortSchema: true });
