// The GraphQL schema: imports every type file (each registers itself on the builder), then builds.
import { isObjectType } from "graphql";
import { builder } from "./builder.ts";
import "./scalars.ts";
import "./Error.ts";
import "./NotFoundError.ts";
import "./ValidationError.ts";
import "./UnsupportedModelError.ts";
import "./Metric.ts";
import "./Model.ts";
import "./Dataset.ts";
import "./DatasetUpload.ts";
import "./Viewer.ts";
import "./BatchMetric.ts";
import "./History.ts";
import "./Fluctuation.ts";
import "./EpochMetric.ts";
import "./Checkpoint.ts";
import "./RunProgress.ts";
import "./ExecutionProvider.ts";
import "./Run.ts";
import "./NoiseReport.ts";
import "./StartRunInput.ts";
import "./Experiment.ts";
import "./RunSeries.ts";
import "./SeriesGroup.ts";
import "./BatchMetricChunk.ts";
import "./EarlyStopping.ts";
import "./ValidationMetric.ts";
import "./Alert.ts";
import "./SystemMetric.ts";
import "./RunEvent.ts";
import "./RunsChangedEvent.ts";
import "./Sweep.ts";
import "./ExternalRun.ts";
import "./OptimizerKind.ts";
import "./RunConfig.ts";

export const schema = builder.toSchema({ sortSchema: true });

// The Prisma plugin adds `totalCount` to prismaConnection/relatedConnection types without a
// description; every field has one (test/schema/descriptions.test.ts).
for (const type of Object.values(schema.getTypeMap())) {
  const field = isObjectType(type) ? type.getFields().totalCount : undefined;
  if (field && !field.description) field.description = "How many items the whole connection holds";
}
