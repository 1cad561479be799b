// Alert webhooks (issue 18, item 6): a run's end (COMPLETED, FAILED, INTERRUPTED), a non-finite loss
// and a plateau are POSTed as JSON to the operator's URLs (ALERT_WEBHOOK_URLS) and the run's own
// (StartRunInput.alerts.urls), signed `X-Gradstream-Signature: sha256=<hex HMAC-SHA256(ALERT_SECRET,
// body)>`, retried with exponential backoff, recorded (AlertDelivery) and published as a RunEvent.
//
// A run's URLs come from API callers, so they are an SSRF vector: http(s) only, no credentials, and no
// private, loopback, link-local or otherwise internal address unless ALERT_ALLOWED_HOSTS names it. The
// address is checked when the socket connects (a lookup hook), not only when the URL is admitted, so a
// name that later resolves elsewhere (DNS rebinding) is refused too; redirects are not followed.
import { createHmac, randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { Db, JsonObject, Run } from "../db/index.ts";
import { RunStatus } from "../db/index.ts";
import { recordAlert } from "../db/learning.ts";
import { ValidationError } from "../errors.ts";
import { allowedBy, checkAlertUrl, guardedLookup, isInternal } from "./alert-urls.ts";
import type { RunEvents } from "./events.ts";
import { type EarlyStoppingConfig, validateWatch } from "./watch.ts";

export { checkAlertUrl } from "./alert-urls.ts";

export type AlertEvent = "COMPLETED" | "FAILED" | "INTERRUPTED" | "NON_FINITE_LOSS" | "PLATEAU";

export interface AlertOptions {
  /** ALERT_WEBHOOK_URLS: the operator's URLs, sent every alert of every run (trusted: not filtered). */
  urls: readonly string[];
  /** ALERT_SECRET: the HMAC key; null sends no signature header. */
  secret: string | null;
  /** ALERT_ALLOWED_HOSTS: names, IPs or CIDR ranges a run's URLs may reach although internal. */
  allowedHosts: readonly string[];
  /** Attempts per delivery (≥ 1), the first retry's delay (doubling after), one attempt's timeout. */
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
}

export const DEFAULT_ALERT_OPTIONS: AlertOptions = {
  urls: [],
  secret: null,
  allowedHosts: [],
  maxAttempts: 5,
  backoffMs: 1000,
  timeoutMs: 5000,
};

/** A run's own alert settings, as stored in Run.alerts. */
export interface RunAlerts {
  urls: string[];
  plateau: EarlyStoppingConfig | null;
}

/** What one delivery ended with (the RunEvent and the AlertDelivery row). */
export interface AlertLog {
  event: AlertEvent;
  url: string;
  attempts: number;
  delivered: boolean;
  httpStatus: number | null;
  error: string | null;
  at: Date;
}

/** Validates StartRunInput.alerts: { urls: [...], plateau: { metric, patience, minDelta } }. */
export function validateRunAlerts(input: unknown, allowed: readonly string[]): RunAlerts | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== "object" || Array.isArray(input))
    throw new ValidationError(
      "alerts",
      'alerts must be an object like {"urls":["https://hooks.example.com/x"]}',
    );
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== "urls" && k !== "plateau")
      throw new ValidationError(`alerts.${k}`, `alerts.${k} is not a setting; known: urls, plateau`);
  const list = o.urls ?? [];
  if (!Array.isArray(list) || list.length > 10)
    throw new ValidationError("alerts.urls", "alerts.urls must be a list of at most 10 URLs");
  const urls = list.map((u, i) => checkAlertUrl(u, `alerts.urls[${i}]`, allowed));
  const plateau =
    o.plateau === undefined || o.plateau === null ? null : validateWatch(o.plateau, "alerts.plateau");
  return { urls, plateau };
}

/** The run's stored alert settings (Run.alerts), or none. */
export function runAlerts(run: Pick<Run, "alerts">): RunAlerts {
  const a = run.alerts as { urls?: string[]; plateau?: EarlyStoppingConfig | null } | null;
  return { urls: a?.urls ?? [], plateau: a?.plateau ?? null };
}

class Refused extends Error {}

/** One POST; resolves with the status code. `guard`: the allowed list for an API caller's URL. */
function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  guard: readonly string[] | null,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, "");
    if (guard && isIP(host) !== 0 && isInternal(host) && !allowedBy(guard, host))
      return reject(new Refused(`refused: ${host} is an internal address (ALERT_ALLOWED_HOSTS)`));
    const mod = u.protocol === "https:" ? https : http;
    const req = mod.request(u, {
      method: "POST",
      headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      timeout: timeoutMs,
      ...(guard ? { lookup: guardedLookup(guard) as never } : {}),
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => reject(err.message.startsWith("refused:") ? new Refused(err.message) : err));
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Alerter {
  private readonly pending = new Set<Promise<void>>();
  constructor(
    private readonly db: Db,
    private readonly events: RunEvents,
    private readonly options: AlertOptions,
  ) {}

  /** Alerts for a committed status: COMPLETED, FAILED (and NON_FINITE_LOSS for a divergence), INTERRUPTED. */
  status(run: Run): void {
    const s = run.status;
    if (s !== RunStatus.COMPLETED && s !== RunStatus.FAILED && s !== RunStatus.INTERRUPTED) return;
    const message = run.stopReason ?? run.errorMessage;
    this.send(run, s, message, run.stoppedAtStep ?? run.failedAtStep ?? run.lastStep);
    if (s === RunStatus.FAILED && /became (NaN|-?Infinity)/.test(run.errorMessage ?? ""))
      this.send(run, "NON_FINITE_LOSS", run.errorMessage, run.failedAtStep);
  }

  /** POSTs one alert to every URL of the run (in the background; close() waits for them). */
  send(run: Run, event: AlertEvent, message: string | null, step: number | null): void {
    const own = runAlerts(run).urls;
    const targets = [
      ...this.options.urls.map((url) => ({ url, guard: null })),
      ...own.map((url) => ({ url, guard: this.options.allowedHosts })),
    ];
    if (!targets.length) return;
    const body = JSON.stringify({
      event,
      run: { id: String(run.id), name: run.name, status: run.status, tags: run.tags as JsonObject },
      message,
      step,
      at: new Date().toISOString(),
    });
    for (const t of targets) {
      const p = this.deliver(run.id, event, t.url, body, t.guard).finally(() => this.pending.delete(p));
      this.pending.add(p);
    }
  }

  private async deliver(
    runId: number,
    event: AlertEvent,
    url: string,
    body: string,
    guard: readonly string[] | null,
  ): Promise<void> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "gradstream-alerts",
      "x-gradstream-event": event,
      "x-gradstream-delivery": randomUUID(),
    };
    if (this.options.secret)
      headers["x-gradstream-signature"] =
        `sha256=${createHmac("sha256", this.options.secret).update(body).digest("hex")}`;
    let attempts = 0;
    let httpStatus: number | null = null;
    let error: string | null = null;
    let delivered = false;
    while (attempts < this.options.maxAttempts && !delivered) {
      if (attempts > 0) await sleep(this.options.backoffMs * 2 ** (attempts - 1));
      attempts++;
      try {
        httpStatus = await post(url, body, headers, this.options.timeoutMs, guard);
        delivered = httpStatus >= 200 && httpStatus < 300;
        error = delivered ? null : `HTTP ${httpStatus}`;
      } catch (err) {
        httpStatus = null;
        error = err instanceof Error ? err.message : String(err);
        if (err instanceof Refused) break;
      }
    }
    const log: AlertLog = { event, url, attempts, delivered, httpStatus, error, at: new Date() };
    try {
      await recordAlert(this.db, { runId, event, url, attempts, delivered, httpStatus, lastError: error });
    } catch {
      // The run may have been deleted meanwhile: the event still tells subscribers.
    }
    this.events.alert(runId, log);
  }

  /** Waits for deliveries in flight (shutdown, tests). */
  async settle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}
