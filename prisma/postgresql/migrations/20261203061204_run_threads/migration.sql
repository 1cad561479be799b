-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "threads" INTEGER;

