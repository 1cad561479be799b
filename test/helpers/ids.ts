// Ids as the API hands them out: global opaque IDs (base64 of "Type:n"). Tests read and make them
// through these helpers, so they do not care how an id is encoded.
import { globalId, intId } from "../../src/errors.ts";

export type NodeType = "Run" | "Model" | "Dataset" | "Sweep";

/** The global ID of a database row, as `id` fields return it. */
export function gid(type: NodeType, n: number | string): string {
  return globalId(type.toLowerCase(), Number(n));
}

/** The database number behind an id the API returned (a global ID; the legacy number passes too). */
export function dbId(id: string | number, type: NodeType = "Run"): number {
  return intId(type.toLowerCase(), id);
}
