// Viewer: who the caller is (query `viewer`), so a client such as the dashboard can ask for a token
// when the server requires one and disable the controls a read-only token may not use.
import { builder } from "./builder.ts";

interface Viewer {
  name: string;
  canWrite: boolean;
  tokensRequired: boolean;
}

export const ViewerType = builder.objectRef<Viewer>("Viewer").implement({
  description: "The caller, as the server authenticated it",
  fields: (t) => ({
    name: t.exposeString("name", { description: 'The API token\'s name, or "anonymous"' }),
    canWrite: t.exposeBoolean("canWrite", {
      description: "Whether mutations are allowed (a write token, or an open server); false for a read token",
    }),
    tokensRequired: t.exposeBoolean("tokensRequired", {
      description:
        "Whether this server requires an API token (GRADSTREAM_AUTH=required or a non-loopback HOST)",
    }),
  }),
});

builder.queryField("viewer", (t) =>
  t.field({
    type: ViewerType,
    description: "Who is calling and what they may do",
    resolve: (_root, _args, ctx) => ({
      name: ctx.auth?.name ?? "anonymous",
      canWrite: (ctx.auth?.scope ?? "write") === "write",
      tokensRequired: ctx.tokensRequired ?? false,
    }),
  }),
);
