import { builder } from "./builder.ts";

/** Every typed error carries a message that says what is wrong and what is accepted. */
export const ErrorInterface = builder.interfaceRef<Error>("Error").implement({
  fields: (t) => ({ message: t.exposeString("message") }),
});
