import { NotFoundError } from "../errors.ts";
import { builder } from "./builder.ts";
import { ErrorInterface } from "./Error.ts";

builder.objectType(NotFoundError, {
  name: "NotFoundError",
  interfaces: [ErrorInterface],
  fields: (t) => ({ entity: t.exposeString("entity"), id: t.exposeID("id") }),
});
