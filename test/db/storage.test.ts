import { describe, expect, it } from "vitest";
import { StorageError, storageFailure } from "../../src/db/index.ts";
import { maskClientErrors } from "../../src/server/app.ts";

const tail =
  "; the rows stored before it are kept: free space or fix the disk, then resumeRun continues from the last checkpoint";

describe("storage failures", () => {
  it("names a full disk from SQLite's code, ENOSPC and PostgreSQL's 53100", () => {
    expect(
      storageFailure(Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" })),
    ).toBe(`the database disk is full (database or disk is full)${tail}`);
    expect(storageFailure(Object.assign(new Error("could not write"), { code: "53100" }))).toBe(
      `the database disk is full (could not write)${tail}`,
    );
    expect(storageFailure(new Error("ENOSPC: no space left on device, write"))).toMatch(
      /^the database disk is full/,
    );
  });

  it("names an I/O error and a read-only file, and leaves other errors alone", () => {
    expect(storageFailure(Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" }))).toBe(
      `the database disk reported an I/O error (disk I/O error)${tail}`,
    );
    expect(storageFailure(new Error("attempt to write a readonly database"))).toMatch(
      /^the database file became read-only/,
    );
    expect(storageFailure(new Error("unknown run id 7"))).toBeNull();
    expect(storageFailure(new Error("metric loss of step 3 is NaN"))).toBeNull();
  });

  it("reaches GraphQL clients as STORAGE_UNAVAILABLE with the reason, not a masked error", () => {
    const e = maskClientErrors(new StorageError("the database disk is full (x)"), "Unexpected error.");
    expect(e.message).toBe("the database disk is full (x)");
    expect((e as { extensions?: Record<string, unknown> }).extensions).toEqual({
      code: "STORAGE_UNAVAILABLE",
    });
  });
});
