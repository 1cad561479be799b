-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "alerts" JSONB,
ADD COLUMN     "bestStep" INTEGER,
ADD COLUMN     "earlyStopping" JSONB,
ADD COLUMN     "stopReason" TEXT,
ADD COLUMN     "stoppedAtStep" INTEGER;

-- CreateTable
CREATE TABLE "ValidationMetric" (
    "runId" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL,
    "loss" DOUBLE PRECISION NOT NULL,
    "accuracy" DOUBLE PRECISION NOT NULL,
    "samples" INTEGER NOT NULL,

    CONSTRAINT "ValidationMetric_pkey" PRIMARY KEY ("runId","step")
);

-- CreateTable
CREATE TABLE "AshaRung" (
    "sweepId" INTEGER NOT NULL,
    "runId" INTEGER NOT NULL,
    "rung" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "promoted" BOOLEAN NOT NULL,
    "decidedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AshaRung_pkey" PRIMARY KEY ("runId","rung")
);

-- CreateTable
CREATE TABLE "AlertDelivery" (
    "id" SERIAL NOT NULL,
    "runId" INTEGER NOT NULL,
    "event" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "delivered" BOOLEAN NOT NULL,
    "httpStatus" INTEGER,
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AlertDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "AshaRung_sweepId_rung_idx" ON "AshaRung"("sweepId", "rung");

-- CreateIndex
CREATE INDEX "AlertDelivery_runId_idx" ON "AlertDelivery"("runId");

-- AddForeignKey
ALTER TABLE "ValidationMetric" ADD CONSTRAINT "ValidationMetric_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AshaRung" ADD CONSTRAINT "AshaRung_sweepId_fkey" FOREIGN KEY ("sweepId") REFERENCES "Sweep"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AshaRung" ADD CONSTRAINT "AshaRung_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AlertDelivery" ADD CONSTRAINT "AlertDelivery_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

