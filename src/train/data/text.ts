// Character-level text for language models: `text:path=…,seqLen=T` (a file in the data directory) or
// `text:corpus=licenses,seqLen=T` (a built-in corpus: license texts shipped by the npm package
// spdx-license-list, so nothing needs apt or a download). The text is cut into non-overlapping windows
// of T + 1 characters; a sample is the first T character ids, its labels the T ids that follow each
// one (next-character prediction). The last `validation` fraction of the windows is held out (a
// contiguous tail, so no window overlaps the training text). The vocabulary is the sorted set of
// characters in the training text plus one id for characters it never saw; it is part of the loaded
// dataset's summary (stored with the run) and a pure function of the spec, so a resumed run or an
// export sees the same ids.
import type { DataFiles } from "./files.ts";
import type { Dataset } from "./load.ts";
import type { TextSpec } from "./spec.ts";

/** Ids for `text` under `vocab`; characters outside it get the unknown id (vocab.length). */
export function encodeText(chars: readonly string[], vocab: readonly string[]): Float32Array {
  const index = new Map(vocab.map((c, i) => [c, i]));
  return Float32Array.from(chars, (c) => index.get(c) ?? vocab.length);
}

/** Cross-entropy (nats) of the training text's character frequencies: what a model without context reaches. */
export function unigramEntropy(ids: ArrayLike<number>, classes: number): number {
  const counts = new Float64Array(classes);
  for (let i = 0; i < ids.length; i++) counts[ids[i]]++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / ids.length) * Math.log(c / ids.length);
  return h;
}

export function loadText(spec: TextSpec, files: DataFiles, fraction: number): Dataset {
  const raw = spec.corpus ? files.readCorpus(spec.corpus) : files.readText(spec.path as string);
  const chars = Array.from(raw.replace(/\r\n/g, "\n"));
  const T = spec.seqLen;
  const windows = Math.floor((chars.length - 1) / T);
  if (windows < 2)
    throw new Error(
      `dataset text has ${chars.length} characters: too short for two windows of seqLen=${T} + 1`,
    );
  let nTrain = windows;
  const nVal = fraction > 0 ? Math.round(windows * fraction) : 0;
  if (nVal >= 1 && nVal < windows) nTrain = windows - nVal;
  const trainChars = chars.slice(0, nTrain * T + 1);
  const vocab = [...new Set(trainChars)].sort();
  const ids = encodeText(chars, vocab);
  const classes = vocab.length + 1;
  const split = (first: number, count: number) => {
    const x = new Float32Array(count * T);
    const y = new Int32Array(count * T);
    for (let w = 0; w < count; w++) {
      const at = (first + w) * T;
      x.set(ids.subarray(at, at + T), w * T);
      for (let t = 0; t < T; t++) y[w * T + t] = ids[at + t + 1];
    }
    return { count, shape: [T], features: T, x, y };
  };
  let train = split(0, nTrain);
  if (spec.limit !== undefined && spec.limit < train.count) train = split(0, spec.limit);
  return {
    spec,
    shape: [T],
    classes,
    labelShape: [T],
    vocabulary: vocab,
    train,
    validation: nTrain < windows ? split(nTrain, windows - nTrain) : null,
    validationSource: nTrain < windows ? "fraction" : "none",
    normalization: { kind: "none", groups: "global", shift: [0], divide: [1] },
  };
}
