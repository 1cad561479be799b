// Sweep rows (src/runs/sweep.ts expands them into runs). Kept beside the Db class so the Prisma
// client stays inside src/db/.
import type { Run, Sweep } from "../generated/sqlite/client.ts";
import type { Db, JsonObject } from "./index.ts";

export type { Sweep } from "../generated/sqlite/client.ts";

export function createSweep(
  db: Db,
  input: { name: string; strategy: "grid" | "random"; spec: JsonObject },
): Promise<Sweep> {
  return db.prisma.sweep.create({ data: input });
}

export function getSweep(db: Db, id: number): Promise<Sweep | null> {
  return db.prisma.sweep.findUnique({ where: { id } });
}

export async function attachRunsToSweep(db: Db, sweepId: number, runIds: readonly number[]): Promise<void> {
  await db.prisma.run.updateMany({ where: { id: { in: [...runIds] } }, data: { sweepId } });
}

/** The sweep's runs in creation order. */
export function sweepRuns(db: Db, sweepId: number): Promise<Run[]> {
  return db.prisma.run.findMany({ where: { sweepId }, orderBy: { id: "asc" } });
}
