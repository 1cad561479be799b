import { UnsupportedModelError } from "../errors.ts";
import { builder } from "./builder.ts";
import { ErrorInterface } from "./Error.ts";

builder.objectType(UnsupportedModelError, {
  name: "UnsupportedModelError",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    ops: t.exposeStringList("ops", { description: "Op types in the model that gradstream cannot train" }),
  }),
});
