import { ValidationError } from "../errors.ts";
import { builder } from "./builder.ts";
import { ErrorInterface } from "./Error.ts";

builder.objectType(ValidationError, {
  name: "ValidationError",
  interfaces: [ErrorInterface],
  fields: (t) => ({ field: t.exposeString("field", { description: "The input field at fault" }) }),
});
