-- AlterTable
ALTER TABLE "Run" ADD COLUMN "heartbeatAt" DATETIME;

