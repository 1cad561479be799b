// Rows of the "is it still learning?" features (issue 18, items 3–6): per-N-step validation results,
// ASHA rung decisions and alert deliveries. Kept beside the Db class so the Prisma client stays in src/db/.
import type { AlertDelivery, AshaRung, ValidationMetric } from "../generated/sqlite/client.ts";
import type { Db } from "./index.ts";

export type { AlertDelivery, AshaRung, ValidationMetric } from "../generated/sqlite/client.ts";

export interface ValidationRow {
  /** The last training step before the evaluation. */
  step: number;
  epoch: number;
  loss: number;
  accuracy: number;
  samples: number;
}

/** Stores an evaluation; the same (run, step) again replaces it (a resumed run evaluates it again). */
export async function writeValidation(db: Db, runId: number, v: ValidationRow): Promise<void> {
  await db.prisma.validationMetric.upsert({
    where: { runId_step: { runId, step: v.step } },
    create: { runId, ...v },
    update: v,
  });
}

/** A run's evaluations in step order, optionally those after `afterStep`. */
export function validationMetrics(db: Db, runId: number, afterStep = -1): Promise<ValidationMetric[]> {
  return db.prisma.validationMetric.findMany({
    where: { runId, step: { gt: afterStep } },
    orderBy: { step: "asc" },
  });
}

export interface RungResult {
  sweepId: number;
  runId: number;
  rung: number;
  step: number;
  value: number;
}

/**
 * Records a trial's result at a rung and decides, in one transaction holding the sweep's lock, whether
 * it goes on: `decide` sees every result recorded at that rung before it (other trials, other workers).
 * PostgreSQL: `SELECT … FOR UPDATE` on the Sweep row serializes deciders across processes; SQLite: a
 * no-op UPDATE of the row takes the one write lock first. A result already recorded is returned unchanged.
 */
export async function decideRung(
  db: Db,
  r: RungResult,
  decide: (earlier: readonly number[]) => boolean,
): Promise<AshaRung> {
  return db.prisma.$transaction(async (tx) => {
    if (db.dialect === "postgresql")
      await tx.$queryRawUnsafe(`SELECT "id" FROM "Sweep" WHERE "id" = $1 FOR UPDATE`, r.sweepId);
    // SQLite: a write first takes the database's write lock before anything is read (a read-then-write
    // transaction on two connections would deadlock on the upgrade instead).
    else await tx.$executeRawUnsafe(`UPDATE "Sweep" SET "name" = "name" WHERE "id" = ?`, r.sweepId);
    const existing = await tx.ashaRung.findUnique({
      where: { runId_rung: { runId: r.runId, rung: r.rung } },
    });
    if (existing) return existing;
    const earlier = await tx.ashaRung.findMany({
      where: { sweepId: r.sweepId, rung: r.rung },
      select: { value: true },
    });
    const promoted = decide(earlier.map((e) => e.value));
    return tx.ashaRung.create({ data: { ...r, promoted } });
  });
}

/** Every rung result of a sweep, by run then rung. */
export function sweepRungs(db: Db, sweepId: number): Promise<AshaRung[]> {
  return db.prisma.ashaRung.findMany({ where: { sweepId }, orderBy: [{ runId: "asc" }, { rung: "asc" }] });
}

export function recordAlert(db: Db, a: Omit<AlertDelivery, "id" | "createdAt">): Promise<AlertDelivery> {
  return db.prisma.alertDelivery.create({ data: a });
}

export function alertDeliveries(db: Db, runId: number): Promise<AlertDelivery[]> {
  return db.prisma.alertDelivery.findMany({ where: { runId }, orderBy: { id: "asc" } });
}

/** The checkpoint saved at `step`, if any (the best one an early-stopped run exports). */
export async function checkpointAt(
  db: Db,
  runId: number,
  step: number,
): Promise<{ step: number; epoch: number; state: Uint8Array } | null> {
  const cp = await db.prisma.checkpoint.findUnique({
    where: { runId_step: { runId, step } },
    select: { id: true, step: true, epoch: true },
  });
  const state = cp && (await db.checkpointState(cp.id));
  return cp && state ? { step: cp.step, epoch: cp.epoch, state } : null;
}
