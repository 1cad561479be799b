-- CreateTable
CREATE TABLE "Model" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "onnx" BLOB,
    "path" TEXT,
    "contentHash" TEXT NOT NULL,
    "inputShape" JSONB NOT NULL,
    "classes" INTEGER NOT NULL,
    "parameterCount" INTEGER NOT NULL,
    "opSummary" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Dataset" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "parameters" JSONB NOT NULL,
    "inputShape" JSONB NOT NULL,
    "classes" INTEGER NOT NULL,
    "trainSize" INTEGER NOT NULL,
    "valSize" INTEGER NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Run" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "modelId" INTEGER NOT NULL,
    "datasetId" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "hyperparameters" JSONB NOT NULL,
    "providerRequested" TEXT NOT NULL DEFAULT 'cpu',
    "providerUsed" TEXT,
    "seed" INTEGER NOT NULL,
    "stepsPerChunk" INTEGER NOT NULL,
    "totalSteps" INTEGER NOT NULL,
    "stepsCompleted" INTEGER NOT NULL DEFAULT 0,
    "lastStep" INTEGER,
    "epochsCompleted" INTEGER NOT NULL DEFAULT 0,
    "bestValAccuracy" REAL,
    "errorMessage" TEXT,
    "failedAtStep" INTEGER,
    "tags" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Run_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Run_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "BatchMetric" (
    "runId" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "batch" INTEGER NOT NULL,
    "loss" REAL NOT NULL,
    "accuracy" REAL NOT NULL,
    "lr" REAL NOT NULL,
    "gradNorm" REAL NOT NULL,
    "confidence" REAL NOT NULL,
    "trueClassProb" REAL NOT NULL,
    "samples" INTEGER NOT NULL,
    "timeMs" REAL NOT NULL,

    PRIMARY KEY ("runId", "step"),
    CONSTRAINT "BatchMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "MetricRollup" (
    "runId" INTEGER NOT NULL,
    "level" INTEGER NOT NULL,
    "bucket" INTEGER NOT NULL,
    "count" INTEGER NOT NULL,
    "firstStep" INTEGER NOT NULL,
    "lastStep" INTEGER NOT NULL,
    "minLoss" REAL NOT NULL,
    "maxLoss" REAL NOT NULL,
    "sumLoss" REAL NOT NULL,
    "minAccuracy" REAL NOT NULL,
    "maxAccuracy" REAL NOT NULL,
    "sumAccuracy" REAL NOT NULL,
    "minLr" REAL NOT NULL,
    "maxLr" REAL NOT NULL,
    "sumLr" REAL NOT NULL,
    "minGradNorm" REAL NOT NULL,
    "maxGradNorm" REAL NOT NULL,
    "sumGradNorm" REAL NOT NULL,
    "minConfidence" REAL NOT NULL,
    "maxConfidence" REAL NOT NULL,
    "sumConfidence" REAL NOT NULL,
    "minTrueClassProb" REAL NOT NULL,
    "maxTrueClassProb" REAL NOT NULL,
    "sumTrueClassProb" REAL NOT NULL,

    PRIMARY KEY ("runId", "level", "bucket"),
    CONSTRAINT "MetricRollup_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "EpochMetric" (
    "runId" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "trainLoss" REAL NOT NULL,
    "trainAccuracy" REAL NOT NULL,
    "valLoss" REAL,
    "valAccuracy" REAL,
    "batches" INTEGER NOT NULL,
    "timeMs" REAL NOT NULL,

    PRIMARY KEY ("runId", "epoch"),
    CONSTRAINT "EpochMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Checkpoint" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "runId" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "state" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Checkpoint_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
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

