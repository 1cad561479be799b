// LeNet-5 as the benches train it (ReLU and max pooling, 28×28 inputs): `npm run bench graph` runs one
// Fashion-MNIST epoch of it through the CLI against PyTorch, `npm run bench runner` through the API.
import { buildModel, validateModelSpec } from "../build-models.ts";

const LENET5_SPEC = {
  name: "lenet5",
  description: "LeNet-5 (ReLU, max pooling) for 28×28 images",
  input: [1, 28, 28],
  classes: 10,
  seed: 0,
  layers: [
    { type: "conv", name: "conv1", out: 6, kernel: 5, padding: 2 },
    { type: "relu" },
    { type: "maxpool", kernel: 2 },
    { type: "conv", name: "conv2", out: 16, kernel: 5 },
    { type: "relu" },
    { type: "maxpool", kernel: 2 },
    { type: "flatten" },
    { type: "linear", name: "fc1", out: 120 },
    { type: "relu" },
    { type: "linear", name: "fc2", out: 84 },
    { type: "relu" },
    { type: "linear", name: "fc3", out: 10 },
  ],
};

/** The model's ONNX bytes (a fresh seed-0 initialization, the same every call). */
export function lenet5Onnx(): Uint8Array {
  return buildModel(validateModelSpec(LENET5_SPEC));
}
