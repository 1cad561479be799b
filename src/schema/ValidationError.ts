import { ValidationError } from "../errors.ts";
import { builder } from "./builder.ts";
import { ErrorInterface } from "./Error.ts";

builder.objectType(ValidationError, {
  name: "ValidationError",
  description: "A bad input value, or a request the object's state refuses; nothing was changed",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    message: t.exposeString("message", { description: "What is wrong with the value and what is accepted" }),
    field: t.exposeString("field", {
      description: 'Dotted path of the input field at fault, e.g. "optimizer.lr" or "id"',
    }),
  }),
});
