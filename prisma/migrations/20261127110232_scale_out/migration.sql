-- CreateTable
CREATE TABLE "Sweep" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "strategy" TEXT NOT NULL,
    "spec" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Run" (
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
INSERT INTO "new_Run" ("bestValAccuracy", "createdAt", "datasetId", "epochsCompleted", "errorMessage", "failedAtStep", "finishedAt", "heartbeatAt", "hyperparameters", "id", "lastStep", "modelId", "name", "providerRequested", "providerUsed", "seed", "startedAt", "status", "stepsCompleted", "stepsPerChunk", "tags", "totalSteps", "updatedAt") SELECT "bestValAccuracy", "createdAt", "datasetId", "epochsCompleted", "errorMessage", "failedAtStep", "finishedAt", "heartbeatAt", "hyperparameters", "id", "lastStep", "modelId", "name", "providerRequested", "providerUsed", "seed", "startedAt", "status", "stepsCompleted", "stepsPerChunk", "tags", "totalSteps", "updatedAt" FROM "Run";
DROP TABLE "Run";
ALTER TABLE "new_Run" RENAME TO "Run";
CREATE INDEX "Run_status_idx" ON "Run"("status");
CREATE INDEX "Run_createdAt_idx" ON "Run"("createdAt");
CREATE INDEX "Run_sweepId_idx" ON "Run"("sweepId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

