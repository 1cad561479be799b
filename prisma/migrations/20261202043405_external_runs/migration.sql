-- CreateTable
CREATE TABLE "CustomMetric" (
    "runId" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "value" REAL NOT NULL,

    PRIMARY KEY ("runId", "step", "name"),
    CONSTRAINT "CustomMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
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
    "min" REAL NOT NULL,
    "max" REAL NOT NULL,
    "sum" REAL NOT NULL,

    PRIMARY KEY ("runId", "name", "level", "bucket"),
    CONSTRAINT "CustomRollup_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Run" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL DEFAULT 'TRAINED',
    "modelId" INTEGER,
    "datasetId" INTEGER,
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
    "heartbeatAt" DATETIME,
    "workerId" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "sweepId" INTEGER,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Run_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Run_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Run_sweepId_fkey" FOREIGN KEY ("sweepId") REFERENCES "Sweep" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Run" ("attempts", "bestValAccuracy", "cancelRequested", "createdAt", "datasetId", "epochsCompleted", "errorMessage", "failedAtStep", "finishedAt", "heartbeatAt", "hyperparameters", "id", "lastStep", "modelId", "name", "providerRequested", "providerUsed", "seed", "startedAt", "status", "stepsCompleted", "stepsPerChunk", "sweepId", "tags", "totalSteps", "updatedAt", "workerId") SELECT "attempts", "bestValAccuracy", "cancelRequested", "createdAt", "datasetId", "epochsCompleted", "errorMessage", "failedAtStep", "finishedAt", "heartbeatAt", "hyperparameters", "id", "lastStep", "modelId", "name", "providerRequested", "providerUsed", "seed", "startedAt", "status", "stepsCompleted", "stepsPerChunk", "sweepId", "tags", "totalSteps", "updatedAt", "workerId" FROM "Run";
DROP TABLE "Run";
ALTER TABLE "new_Run" RENAME TO "Run";
CREATE INDEX "Run_status_idx" ON "Run"("status");
CREATE INDEX "Run_createdAt_idx" ON "Run"("createdAt");
CREATE INDEX "Run_sweepId_idx" ON "Run"("sweepId");
CREATE TABLE "new_BatchMetric" (
    "runId" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "batch" INTEGER NOT NULL,
    "loss" REAL,
    "accuracy" REAL,
    "lr" REAL,
    "gradNorm" REAL,
    "confidence" REAL,
    "trueClassProb" REAL,
    "samples" INTEGER NOT NULL,
    "timeMs" REAL NOT NULL,

    PRIMARY KEY ("runId", "step"),
    CONSTRAINT "BatchMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_BatchMetric" ("accuracy", "batch", "confidence", "epoch", "gradNorm", "loss", "lr", "runId", "samples", "step", "timeMs", "trueClassProb") SELECT "accuracy", "batch", "confidence", "epoch", "gradNorm", "loss", "lr", "runId", "samples", "step", "timeMs", "trueClassProb" FROM "BatchMetric";
DROP TABLE "BatchMetric";
ALTER TABLE "new_BatchMetric" RENAME TO "BatchMetric";
CREATE TABLE "new_MetricRollup" (
    "runId" INTEGER NOT NULL,
    "level" INTEGER NOT NULL,
    "bucket" INTEGER NOT NULL,
    "count" INTEGER NOT NULL,
    "firstStep" INTEGER NOT NULL,
    "lastStep" INTEGER NOT NULL,
    "nLoss" INTEGER NOT NULL DEFAULT 0,
    "minLoss" REAL,
    "maxLoss" REAL,
    "sumLoss" REAL,
    "nAccuracy" INTEGER NOT NULL DEFAULT 0,
    "minAccuracy" REAL,
    "maxAccuracy" REAL,
    "sumAccuracy" REAL,
    "nLr" INTEGER NOT NULL DEFAULT 0,
    "minLr" REAL,
    "maxLr" REAL,
    "sumLr" REAL,
    "nGradNorm" INTEGER NOT NULL DEFAULT 0,
    "minGradNorm" REAL,
    "maxGradNorm" REAL,
    "sumGradNorm" REAL,
    "nConfidence" INTEGER NOT NULL DEFAULT 0,
    "minConfidence" REAL,
    "maxConfidence" REAL,
    "sumConfidence" REAL,
    "nTrueClassProb" INTEGER NOT NULL DEFAULT 0,
    "minTrueClassProb" REAL,
    "maxTrueClassProb" REAL,
    "sumTrueClassProb" REAL,

    PRIMARY KEY ("runId", "level", "bucket"),
    CONSTRAINT "MetricRollup_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_MetricRollup" ("bucket", "count", "firstStep", "lastStep", "level", "maxAccuracy", "maxConfidence", "maxGradNorm", "maxLoss", "maxLr", "maxTrueClassProb", "minAccuracy", "minConfidence", "minGradNorm", "minLoss", "minLr", "minTrueClassProb", "runId", "sumAccuracy", "sumConfidence", "sumGradNorm", "sumLoss", "sumLr", "sumTrueClassProb") SELECT "bucket", "count", "firstStep", "lastStep", "level", "maxAccuracy", "maxConfidence", "maxGradNorm", "maxLoss", "maxLr", "maxTrueClassProb", "minAccuracy", "minConfidence", "minGradNorm", "minLoss", "minLr", "minTrueClassProb", "runId", "sumAccuracy", "sumConfidence", "sumGradNorm", "sumLoss", "sumLr", "sumTrueClassProb" FROM "MetricRollup";
DROP TABLE "MetricRollup";
ALTER TABLE "new_MetricRollup" RENAME TO "MetricRollup";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;


-- Backfill: every rollup written before this migration came from trained runs, whose rows carry every
-- metric, so each metric's count is the bucket's row count.
UPDATE "MetricRollup" SET "nLoss" = "count", "nAccuracy" = "count", "nLr" = "count", "nGradNorm" = "count", "nConfidence" = "count", "nTrueClassProb" = "count";
