-- CreateEnum
CREATE TYPE "ModelSource" AS ENUM ('BUILTIN', 'UPLOAD', 'PATH');

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'INTERRUPTED');

-- CreateTable
CREATE TABLE "Model" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "source" "ModelSource" NOT NULL,
    "onnx" BYTEA,
    "path" TEXT,
    "contentHash" TEXT NOT NULL,
    "inputShape" JSONB NOT NULL,
    "classes" INTEGER NOT NULL,
    "parameterCount" INTEGER NOT NULL,
    "opSummary" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Model_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Dataset" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "parameters" JSONB NOT NULL,
    "inputShape" JSONB NOT NULL,
    "classes" INTEGER NOT NULL,
    "trainSize" INTEGER NOT NULL,
    "valSize" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Dataset_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Run" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "modelId" INTEGER NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'QUEUED',
    "hyperparameters" JSONB NOT NULL,
    "providerRequested" TEXT NOT NULL DEFAULT 'cpu',
    "providerUsed" TEXT,
    "seed" INTEGER NOT NULL,
    "stepsPerChunk" INTEGER NOT NULL,
    "totalSteps" INTEGER NOT NULL,
    "stepsCompleted" INTEGER NOT NULL DEFAULT 0,
    "lastStep" INTEGER,
    "epochsCompleted" INTEGER NOT NULL DEFAULT 0,
    "bestValAccuracy" DOUBLE PRECISION,
    "errorMessage" TEXT,
    "failedAtStep" INTEGER,
    "tags" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BatchMetric" (
    "runId" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "batch" INTEGER NOT NULL,
    "loss" DOUBLE PRECISION NOT NULL,
    "accuracy" DOUBLE PRECISION NOT NULL,
    "lr" DOUBLE PRECISION NOT NULL,
    "gradNorm" DOUBLE PRECISION NOT NULL,
    "confidence" DOUBLE PRECISION NOT NULL,
    "trueClassProb" DOUBLE PRECISION NOT NULL,
    "samples" INTEGER NOT NULL,
    "timeMs" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "BatchMetric_pkey" PRIMARY KEY ("runId","step")
);

-- CreateTable
CREATE TABLE "MetricRollup" (
    "runId" INTEGER NOT NULL,
    "level" INTEGER NOT NULL,
    "bucket" INTEGER NOT NULL,
    "count" INTEGER NOT NULL,
    "firstStep" INTEGER NOT NULL,
    "lastStep" INTEGER NOT NULL,
    "minLoss" DOUBLE PRECISION NOT NULL,
    "maxLoss" DOUBLE PRECISION NOT NULL,
    "sumLoss" DOUBLE PRECISION NOT NULL,
    "minAccuracy" DOUBLE PRECISION NOT NULL,
    "maxAccuracy" DOUBLE PRECISION NOT NULL,
    "sumAccuracy" DOUBLE PRECISION NOT NULL,
    "minLr" DOUBLE PRECISION NOT NULL,
    "maxLr" DOUBLE PRECISION NOT NULL,
    "sumLr" DOUBLE PRECISION NOT NULL,
    "minGradNorm" DOUBLE PRECISION NOT NULL,
    "maxGradNorm" DOUBLE PRECISION NOT NULL,
    "sumGradNorm" DOUBLE PRECISION NOT NULL,
    "minConfidence" DOUBLE PRECISION NOT NULL,
    "maxConfidence" DOUBLE PRECISION NOT NULL,
    "sumConfidence" DOUBLE PRECISION NOT NULL,
    "minTrueClassProb" DOUBLE PRECISION NOT NULL,
    "maxTrueClassProb" DOUBLE PRECISION NOT NULL,
    "sumTrueClassProb" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "MetricRollup_pkey" PRIMARY KEY ("runId","level","bucket")
);

-- CreateTable
CREATE TABLE "EpochMetric" (
    "runId" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "trainLoss" DOUBLE PRECISION NOT NULL,
    "trainAccuracy" DOUBLE PRECISION NOT NULL,
    "valLoss" DOUBLE PRECISION,
    "valAccuracy" DOUBLE PRECISION,
    "batches" INTEGER NOT NULL,
    "timeMs" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "EpochMetric_pkey" PRIMARY KEY ("runId","epoch")
);

-- CreateTable
CREATE TABLE "Checkpoint" (
    "id" SERIAL NOT NULL,
    "runId" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "state" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Checkpoint_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Model_name_key" ON "Model"("name");

-- CreateIndex
CREATE UNIQUE INDEX "Dataset_name_key" ON "Dataset"("name");

-- CreateIndex
CREATE INDEX "Run_status_idx" ON "Run"("status");

-- CreateIndex
CREATE INDEX "Run_createdAt_idx" ON "Run"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Checkpoint_runId_step_key" ON "Checkpoint"("runId", "step");

-- AddForeignKey
ALTER TABLE "Run" ADD CONSTRAINT "Run_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Run" ADD CONSTRAINT "Run_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BatchMetric" ADD CONSTRAINT "BatchMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MetricRollup" ADD CONSTRAINT "MetricRollup_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EpochMetric" ADD CONSTRAINT "EpochMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Checkpoint" ADD CONSTRAINT "Checkpoint_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

