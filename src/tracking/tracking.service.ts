import { createHmac, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { EventsService } from '../events/events.service.js';
import type { NewEvent } from '../events/events.repository.js';
import type { Database } from '../platform/db/schema.js';
import { isDatabaseDown } from '../platform/db/database-errors.js';
import type { Logger } from '../platform/logger.js';
import { createTokenSigner } from '../platform/signing.js';
import { classifyClick, classifyOpen } from './classify.js';
import { createEventBuffer } from './event-buffer.js';
import { createRecentKeys } from './open-dedupe.js';
import { findTrackedLink, insertTrackedLinks, type TrackedLinkRow } from './tracking.repository.js';
import { findHtmlLinks, findTextLinks, rewriteHtmlLinks, rewriteTextLinks } from './email-links.js';
import { withUtmTags, type UtmTags } from './utm.js';

export interface TrackingRequest {
  method: string;
  userAgent: string | null;
  ip: string | null;
}

export interface EmailToTrack {
  sendId: string;
  leadId: string;
  html: string;
  text: string;
  /** Links left as they are (the unsubscribe URL: it is already signed, and must work without Baton's redirect). */
  keepUrls: string[];
  /** Tags added to every tracked link (the sequence's `utm:`), never over a parameter the link has. */
  utm?: UtmTags | null;
}

export type ClickOutcome = { kind: 'redirect'; url: string } | { kind: 'not_found' };

/** The URL a person's click lands on (capture adds a signed visitor token for the marketer's own site). */
export type LandingUrl = (url: string, leadId: string, now: Date) => string;

export interface TrackingService {
  /**
   * Rewrites the http(s) links of each email to click-tracking URLs and adds the open pixel; one
   * insert stores the links of the whole batch. Results in input order.
   */
  prepareEmails(inputs: EmailToTrack[]): Promise<Array<{ html: string; text: string }>>;
  click(token: string, request: TrackingRequest, now: Date): Promise<ClickOutcome>;
  /** Records an open if the token is valid; never throws (the pixel is always served). */
  open(token: string, request: TrackingRequest, now: Date): void;
  /** Events waiting to be written, and events dropped because too many were waiting (since start). */
  buffered(): { pending: number; dropped: number };
  /** Drops a lead's links from the in-memory cache: erased, they must answer 404 at once. */
  forgetLead(leadId: string): void;
  /** Drops every cached link (news of erasures may have been missed). */
  forgetAll(): void;
  /** Writes the events still buffered. */
  close(): Promise<void>;
}

const LINK_CACHE_SIZE = 10_000;
/**
 * One open per send per minute, kept apart for people and machines (an Apple privacy prefetch
 * must not hide the person's own open). Per process: several api processes record one each.
 */
const OPEN_DEDUPE_WINDOW_MS = 60_000;
const OPEN_DEDUPE_MAX_KEYS = 100_000;

export function createTrackingService(
  db: Kysely<Database>,
  events: EventsService,
  settings: { secret: string; previousSecrets?: string[]; publicUrl: string; maxBufferedEvents?: number; landingUrl?: LandingUrl },
  logger: Logger,
): TrackingService {
  const clickSigner = createTokenSigner(settings.secret, 'click', settings.previousSecrets);
  const openSigner = createTokenSigner(settings.secret, 'open', settings.previousSecrets);
  const ipKey = createHmac('sha256', settings.secret).update('baton:ip').digest();
  const ipHashes = new Map<string, string>();
  const hashIp = (ip: string | null) => {
    if (!ip) return null;
    let hashed = ipHashes.get(ip);
    if (!hashed) {
      hashed = createHmac('sha256', ipKey).update(ip).digest('hex').slice(0, 16);
      if (ipHashes.size >= LINK_CACHE_SIZE) ipHashes.clear();
      ipHashes.set(ip, hashed);
    }
    return hashed;
  };
  // Each event has its id from the start, so a batch written twice (its commit's answer lost to a
  // restart) stores it once.
  const buffer = createEventBuffer<NewEvent>(async (batch) => void (await events.recordIfLeadExists(batch)), {
    maxPending: settings.maxBufferedEvents,
    onError: (error, pending) => {
      // A database outage is logged once where it is noticed; here it would be once a second.
      if (isDatabaseDown(error)) logger.debug({ err: error, pending }, 'tracking events wait for the database');
      else logger.error({ err: error, pending }, 'tracking events could not be written; keeping them for the next attempt');
    },
    onFull: (maxPending) =>
      logger.error(
        { maxPending },
        'tracking buffer full: clicks still redirect, but their events are dropped (and counted at /health) until the database takes writes again',
      ),
  });
  const recentOpens = createRecentKeys({ windowMs: OPEN_DEDUPE_WINDOW_MS, maxKeys: OPEN_DEDUPE_MAX_KEYS });
  // Clicks on one email come in bursts (and scanners click every link): keep recent links in
  // memory, by token, so a repeated click costs neither a signature check nor a query. An
  // erasure on any process empties the lead's entries (forgetLead, wired in services.ts).
  const linkCache = new Map<string, TrackedLinkRow>();

  async function linkForToken(token: string): Promise<TrackedLinkRow | undefined> {
    const cached = linkCache.get(token);
    if (cached) return cached;
    const id = clickSigner.verify(token);
    if (!id || !/^\d{1,18}$/.test(id)) return undefined;
    const row = await findTrackedLink(db, id);
    if (row) {
      if (linkCache.size >= LINK_CACHE_SIZE) linkCache.clear();
      linkCache.set(token, row);
    }
    return row;
  }

  async function prepareEmails(inputs: EmailToTrack[]): Promise<Array<{ html: string; text: string }>> {
    const found = inputs.map(({ html, text, keepUrls }) => linksToTrack(html, text, new Set(keepUrls)));
    // Each link is stored as it will be followed: the template's URL exactly, UTM tags added.
    const destination = (input: EmailToTrack, url: string) => (input.utm ? withUtmTags(url, input.utm) : url);
    const ids = await insertTrackedLinks(
      db,
      inputs.flatMap((input, index) =>
        [...new Set((found[index]?.urls ?? []).map((url) => destination(input, url)))].map((url) => ({ sendId: input.sendId, leadId: input.leadId, url })),
      ),
    );
    return inputs.map((input, index) => {
      const { sendId, leadId, html, text, keepUrls } = input;
      const keep = new Set(keepUrls);
      const tracked = (url: string) => {
        if (keep.has(url)) return null;
        const id = ids.get(`${sendId} ${destination(input, url)}`);
        return id ? `${settings.publicUrl}/c/${clickSigner.sign(id)}` : null;
      };
      const pixel = `${settings.publicUrl}/o/${openSigner.sign(JSON.stringify([leadId, sendId]))}.gif`;
      const pixelTag = `<img src="${pixel}" width="1" height="1" alt="" style="display:block;border:0;height:1px;width:1px" />`;
      const trackedHtml = rewriteHtmlLinks(html, tracked);
      return {
        html: trackedHtml.includes('</body>') ? trackedHtml.replace('</body>', `${pixelTag}</body>`) : `${trackedHtml}${pixelTag}`,
        text: rewriteTextLinks(text, found[index]?.htmlUrls ?? [], tracked),
      };
    });
  }

  return {
    prepareEmails,

    async click(token, request, now) {
      const link = await linkForToken(token);
      if (!link) return { kind: 'not_found' };
      const actor = classifyClick({ method: request.method, userAgent: request.userAgent, sentAt: link.created_at, at: now });
      buffer.push({
        id: randomUUID(),
        leadId: link.lead_id,
        type: 'email_clicked',
        occurredAt: now,
        properties: {
          sendId: link.send_id,
          linkId: link.id,
          url: link.url,
          machine: actor.kind === 'machine',
          ...(actor.kind === 'machine' ? { reason: actor.reason } : {}),
          userAgent: request.userAgent,
          ipHash: hashIp(request.ip),
        },
      });
      // Only a person's click carries the visitor token: a scanner running the page must not be joined to the lead.
      return { kind: 'redirect', url: actor.kind === 'human' && settings.landingUrl ? settings.landingUrl(link.url, link.lead_id, now) : link.url };
    },

    open(token, request, now) {
      try {
        const payload = openSigner.verify(token);
        if (!payload) return;
        const parsed: unknown = JSON.parse(payload);
        if (!Array.isArray(parsed) || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') return;
        const actor = classifyOpen({ userAgent: request.userAgent });
        if (!recentOpens.admit(`${parsed[1]} ${actor.kind}`, now.getTime())) return;
        buffer.push({
          id: randomUUID(),
          leadId: parsed[0],
          type: 'email_opened',
          occurredAt: now,
          properties: {
            sendId: parsed[1],
            machine: actor.kind === 'machine',
            ...(actor.kind === 'machine' ? { reason: actor.reason } : {}),
            userAgent: request.userAgent,
            ipHash: hashIp(request.ip),
          },
        });
      } catch (error) {
        logger.warn({ err: error }, 'could not record an open');
      }
    },

    buffered: () => ({ pending: buffer.pending(), dropped: buffer.dropped() }),
    forgetLead(leadId) {
      for (const [token, link] of linkCache) if (link.lead_id === leadId) linkCache.delete(token);
    },

    forgetAll: () => linkCache.clear(),

    close: () => buffer.close(),
  };
}

/**
 * The distinct http(s) links of an email's HTML and text, except those kept as they are; and the
 * HTML's own, which the text part (made from the HTML) holds whole.
 */
function linksToTrack(html: string, text: string, keep: Set<string>): { urls: string[]; htmlUrls: string[] } {
  const htmlUrls = [...keep, ...findHtmlLinks(html).map((link) => link.url)];
  const urls = new Set<string>();
  for (const url of [...htmlUrls, ...findTextLinks(text, htmlUrls).map((link) => link.url)]) if (!keep.has(url)) urls.add(url);
  return { urls: [...urls], htmlUrls };
}
