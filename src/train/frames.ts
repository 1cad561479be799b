// Messages over a byte stream (the socket between the server and a trainer process): each frame is
// a 4-byte little-endian length and the message in V8's serialization (node:v8, the structured clone
// format: typed arrays, Maps, nested objects cross as they are).
//
// Why not Node's IPC channel with serialization "advanced": it re-concatenates its receive buffer on
// every read, so a message of n bytes arriving in 64 KB reads costs O(n²) copying. A seed-CNN
// checkpoint (a few MB) took ~17 ms per MB that way; here the pieces are kept in a list and joined once.
import type { Readable, Writable } from "node:stream";
import { deserialize, serialize } from "node:v8";

const HEADER = 4;

/** Writes one message; `done` is called once the stream has taken the bytes (or failed to). */
export function writeFrame(stream: Writable, message: unknown, done?: (err?: Error | null) => void): void {
  const body = serialize(message);
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt32LE(body.length, 0);
  stream.cork();
  stream.write(head);
  stream.write(body, done);
  stream.uncork();
}

/** Calls `listener` with each message read from the stream, in order. */
export function readFrames(stream: Readable, listener: (message: unknown) => void): void {
  const parts: Buffer[] = [];
  let have = 0;
  let need = -1;
  // The first n bytes of the buffered parts, removed from them (one copy only when they span parts).
  const take = (n: number): Buffer => {
    let out: Buffer;
    if (parts[0].length >= n) out = parts[0].subarray(0, n);
    else {
      out = Buffer.allocUnsafe(n);
      let o = 0;
      for (let i = 0; o < n; i++) o += parts[i].copy(out, o, 0, Math.min(parts[i].length, n - o));
    }
    have -= n;
    while (n > 0) {
      const p = parts[0];
      if (p.length <= n) {
        n -= p.length;
        parts.shift();
      } else {
        parts[0] = p.subarray(n);
        n = 0;
      }
    }
    return out;
  };
  stream.on("data", (b: Buffer) => {
    parts.push(b);
    have += b.length;
    for (;;) {
      if (need < 0) {
        if (have < HEADER) return;
        need = take(HEADER).readUInt32LE(0);
      }
      if (have < need) return;
      const body = take(need);
      need = -1;
      listener(deserialize(body));
    }
  });
}
