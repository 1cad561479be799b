// Alerts: StartRunInput.alerts (per-run webhook URLs and a plateau rule), Run.alertDeliveries and the
// RunAlertEvent streamed on runEvents after each delivery. Delivery lives in src/runs/alerts.ts.
import type { AlertDelivery } from "../db/learning.ts";
import { alertDeliveries } from "../db/learning.ts";
import { globalId } from "../errors.ts";
import type { AlertLog } from "../runs/alerts.ts";
import { builder } from "./builder.ts";
import { EarlyStoppingInput } from "./EarlyStopping.ts";
import { DateTimeScalar } from "./scalars.ts";

export const AlertEventEnum = builder.enumType("AlertEvent", {
  description: "What an alert webhook reports",
  values: {
    COMPLETED: { description: "The run ended COMPLETED (also when it was stopped early)" },
    FAILED: { description: "The run ended FAILED" },
    INTERRUPTED: { description: "The run was interrupted (a shutdown); it can be resumed" },
    NON_FINITE_LOSS: {
      description: "A training metric became NaN or infinite (the run failed at that step)",
    },
    PLATEAU: { description: "The plateau rule's metric stopped improving (sent once per run)" },
  } as const,
});

export const AlertsInput = builder.inputType("AlertsInput", {
  description:
    "Per-run alert webhooks. Each URL gets a signed JSON POST per alert; loopback, private and link-local targets are refused unless ALERT_ALLOWED_HOSTS lists them",
  fields: (t) => ({
    urls: t.stringList({
      description: "Up to 10 http(s) URLs (no credentials), in addition to the server's ALERT_WEBHOOK_URLS",
    }),
    plateau: t.field({
      type: EarlyStoppingInput,
      description: "Send PLATEAU once when this metric has not improved for `patience` evaluation points",
    }),
  }),
});

const AlertDeliveryType = builder.objectRef<AlertDelivery>("AlertDelivery").implement({
  description: "One alert POSTed to one webhook URL, after its retries",
  fields: (t) => ({
    event: t.field({
      type: AlertEventEnum,
      description: "What was reported",
      resolve: (a) => a.event as AlertLog["event"],
    }),
    url: t.exposeString("url", { description: "Where it was POSTed" }),
    attempts: t.exposeInt("attempts", { description: "POSTs made (1 + retries)" }),
    delivered: t.exposeBoolean("delivered", { description: "true when an attempt got a 2xx answer" }),
    httpStatus: t.exposeInt("httpStatus", {
      nullable: true,
      description:
        "The last attempt's HTTP status; null when no answer came (refused, timeout, network error)",
    }),
    lastError: t.exposeString("lastError", {
      nullable: true,
      description: "Why the last attempt failed; null when delivered",
    }),
    at: t.field({
      type: DateTimeScalar,
      description: "When the delivery ended",
      resolve: (a) => a.createdAt,
    }),
  }),
});

export const RunAlertEventType = builder
  .objectRef<{ kind: "alert"; runId: number; alert: AlertLog }>("RunAlertEvent")
  .implement({
    description: "An alert delivery ended (delivered or given up after its retries)",
    fields: (t) => ({
      runId: t.id({ description: "The run the alert is about", resolve: (e) => globalId("run", e.runId) }),
      event: t.field({
        type: AlertEventEnum,
        description: "What was reported",
        resolve: (e) => e.alert.event,
      }),
      url: t.string({ description: "Where it was POSTed", resolve: (e) => e.alert.url }),
      attempts: t.int({ description: "POSTs made (1 + retries)", resolve: (e) => e.alert.attempts }),
      delivered: t.boolean({
        description: "true when an attempt got a 2xx answer",
        resolve: (e) => e.alert.delivered,
      }),
      httpStatus: t.int({
        nullable: true,
        description: "The last attempt's HTTP status; null when no answer came",
        resolve: (e) => e.alert.httpStatus,
      }),
      error: t.string({
        nullable: true,
        description: "Why the last attempt failed; null when delivered",
        resolve: (e) => e.alert.error,
      }),
      at: t.field({
        type: DateTimeScalar,
        description: "When the delivery ended",
        resolve: (e) => e.alert.at,
      }),
    }),
  });

builder.prismaObjectField("Run", "alertDeliveries", (t) =>
  t.field({
    type: [AlertDeliveryType],
    description: "Every alert webhook delivery of the run, oldest first",
    resolve: (r, _args, ctx) => alertDeliveries(ctx.db, r.id),
  }),
);
