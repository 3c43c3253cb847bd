/*
 * Remembers which keys were let through recently, so that a pixel fetched in a loop is recorded
 * once per window: one open token made 46k stored open events in 15 s (issue 16). Pure: the
 * caller passes the time. Bounded: the oldest keys are forgotten first.
 */

export interface RecentKeys {
  /** True (and remembered) if `key` was not let through within the window before `nowMs`. */
  admit(key: string, nowMs: number): boolean;
  size(): number;
}

export function createRecentKeys(options: { windowMs: number; maxKeys: number }): RecentKeys {
  // Insertion order is admission order (a key is deleted before it is set again), so the
  // oldest admissions are always at the head of the map.
  const admittedAt = new Map<string, number>();
  return {
    admit(key, nowMs) {
      for (const [oldKey, at] of admittedAt) {
        if (nowMs - at < options.windowMs) break;
        admittedAt.delete(oldKey);
      }
      const last = admittedAt.get(key);
      if (last !== undefined && nowMs - last < options.windowMs && nowMs >= last) return false;
      admittedAt.delete(key);
      admittedAt.set(key, nowMs);
      for (const oldKey of admittedAt.keys()) {
        if (admittedAt.size <= options.maxKeys) break;
        admittedAt.delete(oldKey);
      }
      return true;
    },
    size: () => admittedAt.size,
  };
}
