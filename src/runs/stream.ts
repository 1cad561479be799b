// Resumable batch streams: replay what is persisted after `afterStep`, then continue live with no gap
// and no duplicate.
//
// Correctness rests on two orderings kept elsewhere: a chunk is committed to the database before it
// is published, and a run's terminal status is committed before its final chunk is published. The
// live subscription is opened before the first replay query, so every chunk is either already in
// the database (replayed) or arrives on the live queue (or both: dropped by step).

export interface StepChunk<Row extends { step: number }> {
  rows: Row[];
  lastStep: number;
  final: boolean;
}

export interface ResumableOptions<C extends StepChunk<{ step: number }>> {
  afterStep: number;
  /** Live events, subscribed before this function is called. */
  live: AsyncIterableIterator<C>;
  /**
   * The next persisted chunk after `afterStep`, or null when the database holds nothing newer and the
   * run is still going. When the run has ended and nothing newer exists, an empty chunk marked final.
   */
  replay: (afterStep: number) => Promise<C | null>;
  /** A copy of `chunk` without the rows at or before `afterStep`. */
  after: (chunk: C, afterStep: number) => C;
}

export async function* resumable<C extends StepChunk<{ step: number }>>(
  opts: ResumableOptions<C>,
): AsyncGenerator<C, void, undefined> {
  let last = opts.afterStep;
  try {
    for (;;) {
      const chunk = await opts.replay(last);
      if (!chunk) break;
      if (chunk.rows.length > 0 || chunk.final) yield chunk;
      last = Math.max(last, chunk.lastStep);
      if (chunk.final) return;
    }
    for (;;) {
      const { value, done } = await opts.live.next();
      if (done) return;
      // A gap: an event was lost in transit (Redis pub/sub is fire-and-forget). Every step up to this
      // chunk's is already committed (persist, then publish), so the missing ones come from the database.
      if (value.rows.length > 0 && value.rows[0].step > last + 1) {
        while (last < value.rows[0].step - 1) {
          const chunk = await opts.replay(last);
          if (!chunk || (chunk.lastStep <= last && !chunk.final)) break;
          if (chunk.rows.length > 0 || chunk.final) yield chunk;
          if (chunk.final) return;
          last = chunk.lastStep;
        }
      }
      // A final chunk past what this stream has (events lost while Redis was down): the rest is committed
      // before the run's terminal status, so it comes from the database, then the final chunk.
      if (value.final && value.lastStep > last) {
        for (;;) {
          const chunk = await opts.replay(last);
          if (!chunk || (chunk.lastStep <= last && !chunk.final)) break;
          if (chunk.rows.length > 0 || chunk.final) yield chunk;
          if (chunk.final) return;
          last = chunk.lastStep;
        }
      }
      const fresh = value.lastStep > last || value.final ? opts.after(value, last) : null;
      if (!fresh || (fresh.rows.length === 0 && !fresh.final)) continue;
      yield fresh;
      last = Math.max(last, fresh.lastStep);
      if (fresh.final) return;
    }
  } finally {
    await opts.live.return?.();
  }
}
