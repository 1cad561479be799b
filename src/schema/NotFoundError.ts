import { NotFoundError } from "../errors.ts";
import { builder } from "./builder.ts";
import { ErrorInterface } from "./Error.ts";

builder.objectType(NotFoundError, {
  name: "NotFoundError",
  description: "An id that names nothing (or names an object of another type)",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    message: t.exposeString("message", { description: "Which id, and where to find valid ones" }),
    entity: t.exposeString("entity", { description: "What the id should name: run, model, dataset, sweep" }),
    id: t.exposeID("id", { description: "The id as it was sent" }),
  }),
});
