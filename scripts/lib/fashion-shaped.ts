// Fashion-MNIST for benchmarks: Debian's files (apt install dataset-fashion-mnist) where present,
// otherwise IDX files of the same shape generated into a folder, so a bench runs the same path.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeIdx } from "../../src/train/data/formats.ts";

export const FASHION = "/usr/share/datasets/fashion-mnist";
export const FASHION_FILES = [
  "train-images-idx3-ubyte.gz",
  "train-labels-idx1-ubyte.gz",
  "t10k-images-idx3-ubyte.gz",
  "t10k-labels-idx1-ubyte.gz",
];

/** Fashion-MNIST-shaped IDX files (60,000 + 10,000 28×28 bytes, 10 classes) with a learnable pattern. */
export function generateIdx(dir: string): string[] {
  const files = ["train-images.idx", "train-labels.idx", "test-images.idx", "test-labels.idx"];
  let seed = 12345;
  for (const [i, n] of [60000, 10000].entries()) {
    const pixels = new Uint8Array(n * 784);
    const labels = new Uint8Array(n);
    for (let s = 0; s < n; s++) {
      labels[s] = s % 10;
      for (let p = 0; p < 784; p++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        // a class-dependent band of rows plus noise
        const band = Math.floor(p / 28 / 3) === labels[s] ? 160 : 0;
        pixels[s * 784 + p] = Math.min(255, band + (seed >>> 25));
      }
    }
    writeFileSync(join(dir, files[2 * i]), encodeIdx([n, 28, 28], pixels));
    writeFileSync(join(dir, files[2 * i + 1]), encodeIdx([n], labels));
  }
  return files.map((f) => join(dir, f));
}

/** The four Fashion-MNIST IDX paths (train images, labels, test images, labels): Debian's or generated in `dir`. */
export function fashionFiles(dir: string): { real: boolean; files: string[] } {
  const real = FASHION_FILES.every((f) => existsSync(join(FASHION, f)));
  return { real, files: real ? FASHION_FILES.map((f) => join(FASHION, f)) : generateIdx(dir) };
}
