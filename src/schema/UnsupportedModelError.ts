import { UnsupportedModelError } from "../errors.ts";
import { builder } from "./builder.ts";
import { ErrorInterface } from "./Error.ts";

builder.objectType(UnsupportedModelError, {
  name: "UnsupportedModelError",
  description:
    "A model gradstream cannot train: an op without a gradient rule, a bad shape or a malformed file",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    message: t.exposeString("message", { description: "What is wrong with the model" }),
    ops: t.exposeStringList("ops", { description: "Op types in the model that gradstream cannot train" }),
  }),
});
