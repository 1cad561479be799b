import { builder } from "./builder.ts";

/** Every typed error carries a message that says what is wrong and what is accepted. */
export const ErrorInterface = builder.interfaceRef<Error>("Error").implement({
  description: "A typed error of a mutation's result union: what went wrong, in words a person can act on",
  fields: (t) => ({
    message: t.exposeString("message", { description: "What is wrong and what is accepted" }),
  }),
});
