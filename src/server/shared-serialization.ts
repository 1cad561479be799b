// Serialize a shared subscription result once for every graphql-ws subscriber.
//
// graphql-ws JSON.stringifies every `next` message per subscriber, payload included. When the payload
// is an ExecutionResult shared by many subscribers (shared-execution.ts), its JSON is the same for
// all of them: this computes it once, lets graphql-ws stringify only a placeholder (the envelope
// with the subscriber's id), and splices the cached JSON in as the message goes to the socket.
import type { ExecutionResult } from "graphql";

/** Results that were executed once for many subscribers (set by shared-execution.ts). */
export const sharedResults = new WeakSet<object>();

const TOKEN_PREFIX = "\u0000gs-raw:";
// How the placeholder string appears inside JSON text.
const PLACEHOLDER = /"\\u0000gs-raw:(\d+)"/;

export class SharedSerializer {
  private readonly json = new WeakMap<object, string>();
  private readonly markers = new WeakMap<object, string>();
  /** Pending placeholder → JSON; each is consumed by the send that follows its stringify. */
  private readonly pending = new Map<string, string>();
  private next = 0;
  hits = 0;

  /** graphql-ws onNext: a marker payload for a shared result, undefined to let graphql-ws format it. */
  onNext(result: ExecutionResult): ExecutionResult | undefined {
    if (!sharedResults.has(result)) return undefined;
    let text = this.json.get(result);
    if (text === undefined) {
      text = JSON.stringify(result);
      this.json.set(result, text);
    } else {
      this.hits++;
    }
    const id = String(this.next++);
    this.pending.set(id, text);
    // Bound the map even if a send never happens (socket closed between stringify and send).
    if (this.pending.size > 4096) this.pending.delete(this.pending.keys().next().value as string);
    const marker: ExecutionResult = {};
    this.markers.set(marker, `${TOKEN_PREFIX}${id}`);
    return marker;
  }

  /** graphql-ws jsonMessageReplacer: the marker payload becomes a placeholder string. */
  readonly replacer = (key: string, value: unknown): unknown => {
    if (key === "payload" && typeof value === "object" && value !== null) {
      const token = this.markers.get(value);
      if (token !== undefined) return token;
    }
    return value;
  };

  /** Replaces a placeholder in an outgoing message with the cached JSON. */
  expand(data: string): string {
    const m = PLACEHOLDER.exec(data);
    if (!m) return data;
    const text = this.pending.get(m[1]);
    if (text === undefined) return data;
    this.pending.delete(m[1]);
    return data.slice(0, m.index) + text + data.slice(m.index + m[0].length);
  }
}
