-- AlterTable
ALTER TABLE "Run" ADD COLUMN "alerts" JSONB;
ALTER TABLE "Run" ADD COLUMN "bestStep" INTEGER;
ALTER TABLE "Run" ADD COLUMN "earlyStopping" JSONB;
ALTER TABLE "Run" ADD COLUMN "stopReason" TEXT;
ALTER TABLE "Run" ADD COLUMN "stoppedAtStep" INTEGER;

-- CreateTable
CREATE TABLE "ValidationMetric" (
    "runId" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "loss" REAL NOT NULL,
    "accuracy" REAL NOT NULL,
    "samples" INTEGER NOT NULL,

    PRIMARY KEY ("runId", "step"),
    CONSTRAINT "ValidationMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AshaRung" (
    "sweepId" INTEGER NOT NULL,
    "runId" INTEGER NOT NULL,
    "rung" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "value" REAL NOT NULL,
    "promoted" BOOLEAN NOT NULL,
    "decidedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("runId", "rung"),
    CONSTRAINT "AshaRung_sweepId_fkey" FOREIGN KEY ("sweepId") REFERENCES "Sweep" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "AshaRung_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AlertDelivery" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "runId" INTEGER NOT NULL,
    "event" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "delivered" BOOLEAN NOT NULL,
    "httpStatus" INTEGER,
    "lastError" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "AlertDelivery_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "AshaRung_sweepId_rung_idx" ON "AshaRung"("sweepId", "rung");

-- CreateIndex
CREATE INDEX "AlertDelivery_runId_idx" ON "AlertDelivery"("runId");

