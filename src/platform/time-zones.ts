const known = new Map<string, boolean>();

/** True for IANA zone names Node knows (aliases such as US/Eastern included). Cached: Intl is slow. */
export function isValidTimeZone(zone: string): boolean {
  const cached = known.get(zone);
  if (cached !== undefined) return cached;
  let valid = false;
  // Offsets like "+02:00" are accepted by Intl but are not zones: DST rules would be lost.
  if (/^[A-Za-z]/.test(zone) && zone.length <= 64) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      valid = true;
    } catch {
      valid = false;
    }
  }
  if (known.size < 10_000) known.set(zone, valid);
  return valid;
}
