// The SQLite writer thread (see sqlite.ts): owns one better-sqlite3 connection and answers requests in
// order; a write's reply is posted only after its transaction committed.
import { parentPort, workerData } from "node:worker_threads";
import { openSqliteWriter, type WorkerReply, type WorkerRequest } from "./sqlite.ts";

const port = parentPort;
if (!port) throw new Error("sqlite-worker.ts must run in a worker thread");
const { path } = workerData as { path: string };
const writer = openSqliteWriter(path);

port.on("message", (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    const value =
      req.kind === "write"
        ? writer.write(req.runId, req.packed, req.names, req.custom)
        : req.kind === "delete"
          ? writer.deleteRun(req.runId)
          : req.kind === "close"
            ? writer.close()
            : req.kind === "room"
              ? writer.hasRoom()
              : req.kind === "checkpoint"
                ? writer.saveCheckpoint(req.runId, req.step, req.epoch, req.state)
                : writer.all(req.sql);
    reply = { id: req.id, ok: true, value };
  } catch (err) {
    // The SQLite code (SQLITE_FULL, SQLITE_IOERR_…) travels too: it tells a full disk from bad data.
    const code = (err as { code?: unknown }).code;
    reply = {
      id: req.id,
      ok: false,
      error: err instanceof Error ? err.message : String(err),
      code: typeof code === "string" ? code : undefined,
    };
  }
  port.postMessage(reply);
});
port.postMessage({ ready: true });
