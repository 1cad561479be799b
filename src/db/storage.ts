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

/**
 * The database server cannot be reached right now (PostgreSQL restarting, failing over, the network
 * down): the request was fine and may be sent again. GraphQL answers it with code DATABASE_UNAVAILABLE
 * (HTTP 503); run writes retry it until DB_RETRY_DEADLINE_MS has passed.
 */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
  readonly code = "DATABASE_UNAVAILABLE";
}

// Connection failures by code: the socket's (refused, reset, timed out), PostgreSQL's class 08
// (connection exception) and 57P01–57P03 (administrator/crash shutdown, starting up), Prisma's P1001
// (can't reach the server), P1002 (timed out) and P1017 (server closed the connection).
const UNAVAILABLE_CODES =
  /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|57P0[123]|08\d{3}|P1001|P1002|P1017)$/;
// …and by message, where pg or the Prisma adapter gives no code.
const UNAVAILABLE_MESSAGES =
  /Connection terminated|connection is not open|Client has encountered a connection error|timeout exceeded when trying to connect|the database system is (starting up|shutting down|in recovery mode)|DatabaseNotReachable|ConnectionClosed/i;

/** A short reason when `err` means the database server is unreachable, else null. */
export function databaseUnavailable(err: unknown): string | null {
  if (err instanceof DatabaseUnavailableError) return err.message;
  const e = err as { code?: unknown; message?: unknown; meta?: { driverAdapterError?: unknown } } | null;
  const code = String(e?.code ?? "");
  const message = err instanceof Error ? err.message : String(err);
  const adapter = String(e?.meta?.driverAdapterError ?? "");
  if (
    !UNAVAILABLE_CODES.test(code) &&
    !UNAVAILABLE_MESSAGES.test(message) &&
    !UNAVAILABLE_MESSAGES.test(adapter)
  )
    return null;
  // Prisma's messages start with a code frame: keep the last line, which says what happened.
  const detail =
    message
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? code;
  return `the database is unreachable (${code && !detail.includes(code) ? `${code}: ` : ""}${detail})`;
}
