const canonical = new Map<string, string | null>();

/**
 * The zone's canonical spelling (`europe/paris` → `Europe/Paris`), or null when Node does not
 * know it as an IANA zone. Offsets such as "+02:00" are refused: they carry no DST rules.
 * Cached, because Intl is slow and the same few zones come back on every row of an import.
 */
export function canonicalTimeZone(zone: string): string | null {
  const cached = canonical.get(zone);
  if (cached !== undefined) return cached;
  let result: string | null = null;
  if (/^[A-Za-z]/.test(zone) && zone.length <= 64) {
    try {
      result = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    } catch {
      result = null;
    }
  }
  if (canonical.size < 10_000) canonical.set(zone, result);
  return result;
}
