-- CreateEnum
CREATE TYPE "RunKind" AS ENUM ('TRAINED', 'EXTERNAL');

-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "kind" "RunKind" NOT NULL DEFAULT 'TRAINED',
ALTER COLUMN "modelId" DROP NOT NULL,
ALTER COLUMN "datasetId" DROP NOT NULL;

-- AlterTable
ALTER TABLE "BatchMetric" ALTER COLUMN "loss" DROP NOT NULL,
ALTER COLUMN "accuracy" DROP NOT NULL,
ALTER COLUMN "lr" DROP NOT NULL,
ALTER COLUMN "gradNorm" DROP NOT NULL,
ALTER COLUMN "confidence" DROP NOT NULL,
ALTER COLUMN "trueClassProb" DROP NOT NULL;

-- AlterTable
ALTER TABLE "MetricRollup" ADD COLUMN     "nAccuracy" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "nConfidence" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "nGradNorm" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "nLoss" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "nLr" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "nTrueClassProb" INTEGER NOT NULL DEFAULT 0,
ALTER COLUMN "minLoss" DROP NOT NULL,
ALTER COLUMN "maxLoss" DROP NOT NULL,
ALTER COLUMN "sumLoss" DROP NOT NULL,
ALTER COLUMN "minAccuracy" DROP NOT NULL,
ALTER COLUMN "maxAccuracy" DROP NOT NULL,
ALTER COLUMN "sumAccuracy" DROP NOT NULL,
ALTER COLUMN "minLr" DROP NOT NULL,
ALTER COLUMN "maxLr" DROP NOT NULL,
ALTER COLUMN "sumLr" DROP NOT NULL,
ALTER COLUMN "minGradNorm" DROP NOT NULL,
ALTER COLUMN "maxGradNorm" DROP NOT NULL,
ALTER COLUMN "sumGradNorm" DROP NOT NULL,
ALTER COLUMN "minConfidence" DROP NOT NULL,
ALTER COLUMN "maxConfidence" DROP NOT NULL,
ALTER COLUMN "sumConfidence" DROP NOT NULL,
ALTER COLUMN "minTrueClassProb" DROP NOT NULL,
ALTER COLUMN "maxTrueClassProb" DROP NOT NULL,
ALTER COLUMN "sumTrueClassProb" DROP NOT NULL;

-- CreateTable
CREATE TABLE "CustomMetric" (
    "runId" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "CustomMetric_pkey" PRIMARY KEY ("runId","step","name")
);

-- CreateTable
CREATE TABLE "CustomRollup" (
    "runId" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "level" INTEGER NOT NULL,
    "bucket" INTEGER NOT NULL,
    "count" INTEGER NOT NULL,
    "firstStep" INTEGER NOT NULL,
    "lastStep" INTEGER NOT NULL,
    "min" DOUBLE PRECISION NOT NULL,
    "max" DOUBLE PRECISION NOT NULL,
    "sum" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "CustomRollup_pkey" PRIMARY KEY ("runId","name","level","bucket")
);

-- AddForeignKey
ALTER TABLE "CustomMetric" ADD CONSTRAINT "CustomMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CustomRollup" ADD CONSTRAINT "CustomRollup_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Backfill: every rollup written before this migration came from trained runs, whose rows carry every
-- metric, so each metric's count is the bucket's row count.
UPDATE "MetricRollup" SET "nLoss" = "count", "nAccuracy" = "count", "nLr" = "count", "nGradNorm" = "count", "nConfidence" = "count", "nTrueClassProb" = "count";
