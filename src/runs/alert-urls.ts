// Where an API caller's alert webhook may point (see alerts.ts): http(s) only, no credentials, and no
// loopback, private, link-local or otherwise internal address unless ALERT_ALLOWED_HOSTS names it;
// checked when a URL is admitted and again when the socket connects (guardedLookup).
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";
import { ValidationError } from "../errors.ts";

const INTERNAL = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 3],
] as const)
  INTERNAL.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 127],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  INTERNAL.addSubnet(net, bits, "ipv6");

export function isInternal(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return INTERNAL.check(mapped[1], "ipv4");
  const v = isIP(address);
  return v === 0 ? true : INTERNAL.check(address, v === 4 ? "ipv4" : "ipv6");
}

/** Whether ALERT_ALLOWED_HOSTS lets a run's URL reach this host name or address. */
export function allowedBy(allowed: readonly string[], hostOrAddress: string): boolean {
  const h = hostOrAddress.toLowerCase().replace(/^\[|\]$/g, "");
  for (const a of allowed) {
    const entry = a.toLowerCase();
    if (entry === h) return true;
    const [net, bits] = entry.split("/");
    const v = isIP(h);
    if (bits !== undefined && v !== 0 && isIP(net) === v) {
      const list = new BlockList();
      list.addSubnet(net, Number(bits), v === 4 ? "ipv4" : "ipv6");
      if (list.check(h, v === 4 ? "ipv4" : "ipv6")) return true;
    }
  }
  return false;
}

/** Checks one URL an API caller gave; returns it normalized or throws naming the field. */
export function checkAlertUrl(raw: unknown, field: string, allowed: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw new ValidationError(
      field,
      `${field} must be an absolute http:// or https:// URL, got ${JSON.stringify(String(raw).slice(0, 200))}`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ValidationError(
      field,
      `${field} must use http or https, got ${url.protocol.replace(/:$/, "")}`,
    );
  if (url.username || url.password)
    throw new ValidationError(
      field,
      `${field} must not carry credentials (user:password@); sign with ALERT_SECRET instead`,
    );
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const internal =
    host === "localhost" || host.endsWith(".localhost") || (isIP(host) !== 0 && isInternal(host));
  if (internal && !allowedBy(allowed, host))
    throw new ValidationError(
      field,
      `${field} points at ${host}, a loopback, private or link-local address; webhooks may reach it only when ALERT_ALLOWED_HOSTS lists it`,
    );
  return url.toString();
}

/** A DNS lookup that refuses internal addresses unless allowed: checked at connect time. */
export function guardedLookup(allowed: readonly string[]) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number },
    cb: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return cb(err, []);
      const bad = addresses.find((a) => isInternal(a.address) && !allowedBy(allowed, a.address));
      if (bad && !allowedBy(allowed, hostname))
        return cb(
          new Error(
            `refused: ${hostname} resolves to the internal address ${bad.address} (ALERT_ALLOWED_HOSTS)`,
          ),
          [],
        );
      if (options.all) cb(null, addresses);
      else cb(null, addresses[0].address, addresses[0].family);
    });
  };
}
