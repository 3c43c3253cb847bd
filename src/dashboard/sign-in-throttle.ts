/*
 * Counts sign-in attempts per key (an IP address, an email address) in fixed windows, and says
 * when a key has had its share. In memory, per process: an attacker spread over several api
 * processes gets each one's allowance, which still turns 300 guesses a second into a few per minute.
 * Pure apart from its own map; `now` is passed in.
 */

export interface Throttle {
  /** Milliseconds until `key` may try again, or null when it may try now. */
  retryAfterMs(key: string, now: Date): number | null;
  /** Counts one attempt by `key`. */
  count(key: string, now: Date): void;
}

export function createThrottle(options: { limit: number; windowMs: number; maxKeys?: number }): Throttle {
  const { limit, windowMs, maxKeys = 50_000 } = options;
  const windows = new Map<string, { count: number; endsAt: number }>();

  // Bounded: past maxKeys, finished windows go first, then the oldest.
  const prune = (now: number) => {
    for (const [key, window] of windows) if (window.endsAt <= now) windows.delete(key);
    for (const key of windows.keys()) {
      if (windows.size < maxKeys) break;
      windows.delete(key);
    }
  };

  return {
    retryAfterMs(key, now) {
      const window = windows.get(key);
      if (!window || window.endsAt <= now.getTime() || window.count < limit) return null;
      return window.endsAt - now.getTime();
    },
    count(key, now) {
      const at = now.getTime();
      const window = windows.get(key);
      if (window && window.endsAt > at) {
        window.count++;
        return;
      }
      if (windows.size >= maxKeys) prune(at);
      windows.set(key, { count: 1, endsAt: at + windowMs });
    },
  };
}
