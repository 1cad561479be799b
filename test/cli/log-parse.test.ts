// The line parser of `gradstream log` (scripts/lib/log-parse.ts): the reference formats, JSON lines,
// generic pairs, and what it refuses.
import { describe, expect, it } from "vitest";
import { normalizeKey, parseLine, StepCounter } from "../../scripts/lib/log-parse.ts";

describe("gradstream log line parsing", () => {
  it("reads the reference format of examples 1 and 3: epoch, batch loss and batch accuracy", () => {
    expect(parseLine("Epoch: 1, Batch Loss: 0.6931, Batch Accuracy: 0.5000")).toEqual({
      row: { epoch: 1, loss: 6931 / 1e4, accuracy: 0.5, custom: {} },
      warnings: [],
    });
  });

  it("reads example 2's loss-only lines and takes its header line for no row", () => {
    expect(parseLine("Batch Size 10 Training:")).toEqual({ row: null, warnings: [] });
    expect(parseLine("Batch Loss: 0.6931")).toEqual({
      row: { loss: 6931 / 1e4, custom: {} },
      warnings: [],
    });
  });

  it("reads JSON lines: numeric fields, its own step, custom names kept as written", () => {
    expect(
      parseLine('{"step": 12, "loss": 0.25, "acc": 0.75, "grad_norm/fc1": 1e-3, "phase": "train"}'),
    ).toEqual({
      row: { step: 12, loss: 0.25, accuracy: 0.75, custom: { "grad_norm/fc1": 0.001 } },
      warnings: [],
    });
  });

  it("reads key=value and key: value pairs anywhere in a line, custom keys joined with _ and lower-cased", () => {
    expect(parseLine("[train] iter=40 loss=1.5e-1 lr=0.001 Val Loss: 0.3 ppl=12")).toEqual({
      row: { step: 40, loss: 0.15, lr: 0.001, custom: { val_loss: 0.3, ppl: 12 } },
      warnings: [],
    });
    expect(normalizeKey("  Batch   Accuracy ")).toBe("batch_accuracy");
  });

  it("leaves out non-finite values with a warning naming the key, in text and in Python's JSON", () => {
    expect(parseLine("loss: nan, accuracy: 0.5")).toEqual({
      row: { accuracy: 0.5, custom: {} },
      warnings: ["loss = NaN is not a finite number: left out"],
    });
    expect(parseLine('{"loss": NaN, "lr": Infinity}')).toEqual({
      row: null,
      warnings: [
        "loss = NaN is not a finite number: left out",
        "lr = Infinity is not a finite number: left out",
      ],
    });
  });

  it("skips malformed JSON and prose, and refuses a fractional step", () => {
    expect(parseLine('{"loss": 0.5')).toEqual({
      row: null,
      warnings: ["a line starting with { is not valid JSON: skipped"],
    });
    expect(parseLine("Downloading data… done (3 files)")).toEqual({ row: null, warnings: [] });
    expect(parseLine("step: 1.5 loss: 1")).toEqual({
      row: { loss: 1, custom: {} },
      warnings: ["step = 1.5 is not a non-negative integer: left out"],
    });
  });

  it("numbers rows in arrival order and goes on after a line's own step", () => {
    const c = new StepCounter();
    expect([
      c.assign({ custom: {} }),
      c.assign({ custom: {} }),
      c.assign({ step: 10, custom: {} }),
      c.assign({ custom: {} }),
    ]).toEqual([0, 1, 10, 11]);
    expect(new StepCounter(5).assign({ custom: {} })).toBe(5);
  });
});
