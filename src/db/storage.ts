// Storage failures (a full disk, an I/O error, a read-only or vanished database file) as one error
// type whose message names the cause and what to do. The run manager records that message as the
// run's reason, and Db refuses new runs with it while writes keep failing.

/** A write the database could not take because of the storage, not because of the data. */
export class StorageError extends Error {
  override name = "StorageError";
}

const CAUSES: readonly { test: RegExp; cause: string }[] = [
  // SQLite's SQLITE_FULL (also from PRAGMA max_page_count), ENOSPC, PostgreSQL's class 53 (53100 disk_full).
  {
    test: /SQLITE_FULL|database or disk is full|ENOSPC|No space left on device|could not extend file|^53100$/i,
    cause: "the database disk is full",
  },
  { test: /SQLITE_IOERR|disk I\/O error|\bEIO\b/i, cause: "the database disk reported an I/O error" },
  {
    test: /SQLITE_READONLY|attempt to write a readonly database|EROFS/i,
    cause: "the database file became read-only",
  },
];

/** The reason for a run stopped by `err`, or null when `err` is not a storage failure. */
export function storageFailure(err: unknown): string | null {
  if (err instanceof StorageError) return err.message;
  const code = String((err as { code?: unknown } | null)?.code ?? "");
  const message = err instanceof Error ? err.message : String(err);
  for (const { test, cause } of CAUSES) {
    if (test.test(code) || test.test(message)) {
      const detail = message.split("\n").filter(Boolean).at(-1) ?? message;
      return `${cause} (${detail.trim()}); the rows stored before it are kept: free space or fix the disk, then resumeRun continues from the last checkpoint`;
    }
  }
  return null;
}
