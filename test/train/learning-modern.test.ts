// The learnable twins of the modern families, trained through the real runner on real data: a 2-layer
// causal character transformer on the built-in license corpus (int64 token inputs, per-position
// labels) and a GRU reading MNIST digits row by row.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadDataset, parseDatasetSpec, summarizeDataset } from "../../src/train/data/index.ts";
import { unigramEntropy } from "../../src/train/data/text.ts";
import { trainInline } from "../../src/train/runner.ts";

const model = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../models/${name}.onnx`, import.meta.url)));

describe("modern built-in models learn", () => {
  it("the causal character transformer's validation loss falls well below the corpus's unigram entropy in 2 epochs", async () => {
    const data = loadDataset(parseDatasetSpec("licenses"), { validation: 0.1 });
    const validation = data.validation;
    if (!validation) throw new Error("no validation split");
    // a model that ignores context can do no better than the character frequencies
    const entropy = unigramEntropy(validation.y, data.classes);
    expect(entropy).toBeGreaterThan(3);
    expect(summarizeDataset(data).vocabulary).toHaveLength(data.classes - 1);
    const r = await trainInline({
      model: model("transformer-char"),
      config: {
        dataset: "licenses",
        optimizer: { kind: "adam", lr: 0.003 },
        batchSize: 32,
        epochs: 2,
        validation: { fraction: 0.1 },
        k: 16,
      },
    });
    expect(r.rows[0].loss).toBeGreaterThan(entropy);
    const last = r.epochs[1];
    expect(last.valLoss).not.toBeNull();
    expect(last.valLoss as number).toBeLessThan(entropy - 0.5);
    expect(last.valAccuracy as number).toBeGreaterThan(0.25);
  }, 180_000);

  it("the GRU over MNIST rows reaches at least 90% validation accuracy in 2 epochs", async () => {
    const r = await trainInline({
      model: model("rnn-mnist"),
      config: {
        dataset: "mnist-rows",
        optimizer: { kind: "adam", lr: 0.005 },
        batchSize: 32,
        epochs: 2,
        validation: { fraction: 0.1 },
        k: 20,
      },
    });
    expect(r.epochs).toHaveLength(2);
    expect(r.epochs[1].valAccuracy as number).toBeGreaterThanOrEqual(0.9);
  }, 180_000);

  it("a text dataset with a model whose logits have no position axis is refused, naming both shapes", async () => {
    const tokenClassifier = new Uint8Array(readFileSync("test/fixtures/torch-modern/token_classifier.onnx"));
    await expect(
      trainInline({
        model: tokenClassifier,
        config: {
          dataset: "text:corpus=licenses,seqLen=12",
          optimizer: { kind: "sgd", lr: 0.1 },
          batchSize: 8,
          epochs: 1,
        },
      }),
    ).rejects.toThrow(/the dataset has \[12\] labels per sample but the model's logits are \[batch, 3\]/);
  });
});
