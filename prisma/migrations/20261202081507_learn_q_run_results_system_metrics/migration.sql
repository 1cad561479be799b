-- AlterTable
ALTER TABLE "Run" ADD COLUMN "durationMs" REAL;
ALTER TABLE "Run" ADD COLUMN "lastLoss" REAL;

-- CreateTable
CREATE TABLE "RunTag" (
    "runId" INTEGER NOT NULL,
    "tag" TEXT NOT NULL,

    PRIMARY KEY ("tag", "runId"),
    CONSTRAINT "RunTag_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "SystemMetric" (
    "runId" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "firstStep" INTEGER NOT NULL,
    "startMs" REAL NOT NULL,
    "wallMs" REAL NOT NULL,
    "cpuUserMs" REAL NOT NULL,
    "cpuSystemMs" REAL NOT NULL,
    "rssBytes" REAL NOT NULL,
    "samplesPerSec" REAL NOT NULL,

    PRIMARY KEY ("runId", "step"),
    CONSTRAINT "SystemMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "RunTag_runId_idx" ON "RunTag"("runId");

-- CreateIndex
CREATE INDEX "Run_bestValAccuracy_id_idx" ON "Run"("bestValAccuracy", "id");

-- CreateIndex
CREATE INDEX "Run_lastLoss_id_idx" ON "Run"("lastLoss", "id");

-- CreateIndex
CREATE INDEX "Run_durationMs_id_idx" ON "Run"("durationMs", "id");


-- Backfill (added by hand): tags, last loss and duration of the runs that exist already.
INSERT OR IGNORE INTO "RunTag" ("runId", "tag")
SELECT "Run"."id", "j"."value" FROM "Run", json_each("Run"."tags") AS "j" WHERE "j"."type" = 'text';
UPDATE "Run" SET "lastLoss" = (
  SELECT "loss" FROM "BatchMetric" WHERE "BatchMetric"."runId" = "Run"."id" AND "loss" IS NOT NULL
  ORDER BY "step" DESC LIMIT 1
);
UPDATE "Run" SET "durationMs" = (julianday("finishedAt") - julianday("startedAt")) * 86400000.0
WHERE "finishedAt" IS NOT NULL AND "startedAt" IS NOT NULL;
