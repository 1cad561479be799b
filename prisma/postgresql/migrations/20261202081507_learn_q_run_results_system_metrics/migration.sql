-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "durationMs" DOUBLE PRECISION,
ADD COLUMN     "lastLoss" DOUBLE PRECISION;

-- CreateTable
CREATE TABLE "RunTag" (
    "runId" INTEGER NOT NULL,
    "tag" TEXT NOT NULL,

    CONSTRAINT "RunTag_pkey" PRIMARY KEY ("tag","runId")
);

-- CreateTable
CREATE TABLE "SystemMetric" (
    "runId" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "firstStep" INTEGER NOT NULL,
    "startMs" DOUBLE PRECISION NOT NULL,
    "wallMs" DOUBLE PRECISION NOT NULL,
    "cpuUserMs" DOUBLE PRECISION NOT NULL,
    "cpuSystemMs" DOUBLE PRECISION NOT NULL,
    "rssBytes" DOUBLE PRECISION NOT NULL,
    "samplesPerSec" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "SystemMetric_pkey" PRIMARY KEY ("runId","step")
);

-- CreateIndex
CREATE INDEX "RunTag_runId_idx" ON "RunTag"("runId");

-- CreateIndex
CREATE INDEX "Run_bestValAccuracy_id_idx" ON "Run"("bestValAccuracy", "id");

-- CreateIndex
CREATE INDEX "Run_lastLoss_id_idx" ON "Run"("lastLoss", "id");

-- CreateIndex
CREATE INDEX "Run_durationMs_id_idx" ON "Run"("durationMs", "id");

-- AddForeignKey
ALTER TABLE "RunTag" ADD CONSTRAINT "RunTag_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SystemMetric" ADD CONSTRAINT "SystemMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Backfill (added by hand): tags, last loss and duration of the runs that exist already.
INSERT INTO "RunTag" ("runId", "tag")
SELECT "Run"."id", "t"."tag" FROM "Run", jsonb_array_elements_text(
  CASE WHEN jsonb_typeof("Run"."tags") = 'array' THEN "Run"."tags" ELSE '[]'::jsonb END) AS "t"("tag")
ON CONFLICT DO NOTHING;
UPDATE "Run" SET "lastLoss" = (
  SELECT "loss" FROM "BatchMetric" WHERE "BatchMetric"."runId" = "Run"."id" AND "loss" IS NOT NULL
  ORDER BY "step" DESC LIMIT 1
);
UPDATE "Run" SET "durationMs" = EXTRACT(EPOCH FROM ("finishedAt" - "startedAt")) * 1000.0
WHERE "finishedAt" IS NOT NULL AND "startedAt" IS NOT NULL;
