/*
 * The per-lead frequency cap: at most `count` marketing emails in any window of `windowMs`,
 * across all sequences. Pure, so the rule is tested without a clock or a database.
 */

export interface FrequencyCap {
  count: number;
  windowMs: number;
}

/**
 * When the next marketing email may go to a lead who was sent (or is being sent) emails at
 * `recent`, or null when one may go now.
 */
export function nextAllowedSend(cap: FrequencyCap, recent: Date[], now: Date): Date | null {
  const inWindow = recent
    .map((at) => at.getTime())
    .filter((at) => at > now.getTime() - cap.windowMs)
    .sort((a, b) => b - a);
  if (inWindow.length < cap.count) return null;
  // The cap frees a slot when the count-th most recent send leaves the window.
  const blocking = inWindow[cap.count - 1] ?? now.getTime();
  return new Date(blocking + cap.windowMs);
}
