/** Durations in sequence files: a whole number and a unit, e.g. 30s, 15m, 2h, 3d, 1w. */

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
// At least one second (a zero wait would let a loop spin) and at most about two years.
export const DURATION_PATTERN = /^([1-9]\d{0,5})(s|m|h|d|w)$/;
export const MAX_DURATION_MS = 2 * 366 * 86_400_000;

export function parseDuration(text: string): number | null {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match?.[1] || !match[2]) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return ms <= MAX_DURATION_MS ? ms : null;
}
