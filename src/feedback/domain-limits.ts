/*
 * Per-domain sending limits (BATON_DOMAIN_LIMITS, e.g. "gmail.com:20/s,yahoo.com:600/m"), pure.
 * A domain's budget is counted in fixed windows (one second, or one minute for /m) shared by
 * every worker through Postgres (domain-gate.ts). A 421 or 4.7.x "slow down" reply from a domain
 * divides its budget by SLOW_DIVISOR for SLOWED_FOR_MS; a domain without a limit of its own gets
 * SLOWED_DEFAULT per second meanwhile.
 */

export interface DomainLimit {
  count: number;
  windowMs: number;
}

export const SLOWED_FOR_MS = 10 * 60_000;
export const SLOW_DIVISOR = 4;
export const SLOWED_DEFAULT: DomainLimit = { count: 1, windowMs: 1000 };
export const DOMAIN_LIMITS_PATTERN = /^\s*[a-z0-9.-]+\.[a-z]{2,}\s*:\s*\d{1,6}\/[sm](\s*,\s*[a-z0-9.-]+\.[a-z]{2,}\s*:\s*\d{1,6}\/[sm])*\s*$/i;

export function parseDomainLimits(text: string): Map<string, DomainLimit> {
  const limits = new Map<string, DomainLimit>();
  for (const entry of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^([a-z0-9.-]+)\s*:\s*(\d+)\/([sm])$/i.exec(entry);
    if (match?.[1] && match[2] && Number(match[2]) > 0)
      limits.set(match[1].toLowerCase(), { count: Number(match[2]), windowMs: match[3] === 'm' ? 60_000 : 1000 });
  }
  return limits;
}

/** The budget in force: the configured one, cut while the domain asked us to slow down. */
export function effectiveLimit(configured: DomainLimit | undefined, slowedUntil: Date | null, now: Date): DomainLimit | null {
  const slowed = slowedUntil !== null && slowedUntil.getTime() > now.getTime();
  if (!slowed) return configured ?? null;
  if (!configured) return SLOWED_DEFAULT;
  return { count: Math.max(1, Math.floor(configured.count / SLOW_DIVISOR)), windowMs: configured.windowMs };
}

export interface WindowState {
  windowStart: Date;
  sent: number;
}

/**
 * How many of `wanted` emails may go in the window that holds `now`, the window's state after
 * them, and when the rest may try again (the next window's start).
 */
export function allot(limit: DomainLimit, state: WindowState | null, wanted: number, now: Date): { allowed: number; state: WindowState; retryAt: Date } {
  const windowStart = new Date(Math.floor(now.getTime() / limit.windowMs) * limit.windowMs);
  const used = state && state.windowStart.getTime() === windowStart.getTime() ? state.sent : 0;
  const allowed = Math.max(0, Math.min(wanted, limit.count - used));
  return { allowed, state: { windowStart, sent: used + allowed }, retryAt: new Date(windowStart.getTime() + limit.windowMs) };
}

export function domainOf(email: string): string {
  return email
    .slice(email.lastIndexOf('@') + 1)
    .trim()
    .toLowerCase();
}
