import type { Rate } from './capture-config.js';

/*
 * Fixed-window counters per key (a visitor id, an IP address), in memory per process: several api
 * processes each allow the rate. Pure apart from its own map; `now` is passed in.
 */

export interface RateLimiter {
  /** Counts one hit for `key`; false when the key is over its rate in this window. */
  admit(key: string, now: number): boolean;
  /** Seconds until the key's window ends (Retry-After). */
  retryAfterSeconds(key: string, now: number): number;
}

export function createRateLimiter(rate: Rate, maxKeys = 200_000): RateLimiter {
  const windows = new Map<string, { startedAt: number; count: number }>();
  const prune = (now: number) => {
    for (const [key, window] of windows) if (now - window.startedAt >= rate.windowMs) windows.delete(key);
    // Still full of live keys (a flood of new visitor ids): start over rather than grow.
    if (windows.size >= maxKeys) windows.clear();
  };
  return {
    admit(key, now) {
      let window = windows.get(key);
      if (!window || now - window.startedAt >= rate.windowMs) {
        if (!window && windows.size >= maxKeys) prune(now);
        window = { startedAt: now, count: 0 };
        windows.set(key, window);
      }
      window.count++;
      return window.count <= rate.count;
    },
    retryAfterSeconds(key, now) {
      const window = windows.get(key);
      return window ? Math.max(1, Math.ceil((window.startedAt + rate.windowMs - now) / 1000)) : 1;
    },
  };
}
