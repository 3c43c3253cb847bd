/*
 * Who opened or clicked: a person, or a machine acting for one. Apple Mail Privacy Protection
 * fetches every pixel; security scanners (Safe Links, Mimecast, Proofpoint, Barracuda…) follow
 * every link within seconds of delivery, often with HEAD. Machine events are stored (they tell
 * deliverability stories) but never move a score or take a branch. Pure, with times passed in.
 */

export type Actor = { kind: 'human' } | { kind: 'machine'; reason: string };

// A click this soon after the message was sent is a scanner: people do not read that fast.
export const SCANNER_CLICK_WINDOW_MS = 10_000;

const SCANNER_AGENTS =
  /(safelinks|microsoft office|office365|mimecast|proofpoint|barracuda|symantec|trend ?micro|fortinet|sophos|cisco|ironport|forcepoint|zscaler|checkpoint|bot\b|crawler|spider|curl\/|wget\/|python-requests|go-http-client|java\/|okhttp|headless)/i;

export interface ClickContext {
  method: string;
  userAgent: string | null;
  sentAt: Date | null;
  at: Date;
}

export function classifyClick(click: ClickContext): Actor {
  if (click.method === 'HEAD') return { kind: 'machine', reason: 'HEAD request (link scanner)' };
  if (!click.userAgent) return { kind: 'machine', reason: 'no user agent' };
  if (SCANNER_AGENTS.test(click.userAgent)) return { kind: 'machine', reason: 'known scanner or bot user agent' };
  if (click.sentAt && click.at.getTime() - click.sentAt.getTime() < SCANNER_CLICK_WINDOW_MS) {
    return { kind: 'machine', reason: `clicked within ${SCANNER_CLICK_WINDOW_MS / 1000}s of sending` };
  }
  return { kind: 'human' };
}

export function classifyOpen(open: { userAgent: string | null }): Actor {
  // Apple Mail Privacy Protection prefetches with exactly this user agent.
  if (open.userAgent === 'Mozilla/5.0') return { kind: 'machine', reason: 'Apple Mail Privacy Protection prefetch' };
  if (!open.userAgent) return { kind: 'machine', reason: 'no user agent' };
  // Gmail's and Yahoo's image proxies fetch when the person opens the message: those count.
  if (SCANNER_AGENTS.test(open.userAgent)) return { kind: 'machine', reason: 'scanner or bot user agent' };
  return { kind: 'human' };
}
