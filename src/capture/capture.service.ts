import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { LeadsService } from '../leads/leads.service.js';
import type { LeadFields } from '../leads/lead.js';
import { PHONE_PATTERN } from '../leads/leads.schemas.js';
import { isDatabaseDown } from '../platform/db/database-errors.js';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import { createEventBuffer } from '../tracking/event-buffer.js';
import type { CollectMessage, IdentifyTraits } from './collect-message.js';
import { joinVisitorToLead, type JoinOutcome } from './visitor-join.js';
import type { VisitorTokens } from './visitor-token.js';
import { deleteAnonymousVisitors, recordVisitorEvents, type VisitorEvent } from './visitors.repository.js';

/*
 * Website capture: events from the snippet are answered at once and written in batches (as
 * clicks are), identify and signed email-click tokens join a visitor to a lead. Nothing here
 * returns anything about a lead to the page: the outcomes are for logs and tests.
 */

export type CollectOutcome =
  | { kind: 'recorded'; joined: JoinOutcome | null }
  | { kind: 'identified'; joined: JoinOutcome }
  /** An erased or suppressed address: nothing stored, and the page is told nothing different. */
  | { kind: 'suppressed' }
  /** The buffer is full (the database is away for long): the event is dropped and counted. */
  | { kind: 'dropped' };

export interface CaptureService {
  collect(message: CollectMessage, now: Date): Promise<CollectOutcome>;
  /**
   * The hot path, without a promise: an event that carries no token only joins the buffer. Null
   * when the message needs `collect` (an identify, or a token to check).
   */
  collectAnonymousEvent(message: CollectMessage, now: Date): CollectOutcome | null;
  /** See visitor-join.ts; what a form submit carrying the visitor id calls. */
  joinVisitorToLead(visitorId: string, leadId: string, now: Date): Promise<JoinOutcome>;
  /** Deletes anonymous visitors unseen for the retention period; returns how many. */
  pruneAnonymousVisitors(now: Date): Promise<number>;
  buffered(): { pending: number; dropped: number };
  /** Writes what is buffered now. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface CaptureServiceOptions {
  db: Kysely<Database>;
  leads: LeadsService;
  tokens: VisitorTokens;
  logger: Logger;
  retentionMs: number;
  maxBufferedEvents?: number;
}

const PRUNE_BATCH = 1000;

export function createCaptureService({ db, leads, tokens, logger, retentionMs, maxBufferedEvents }: CaptureServiceOptions): CaptureService {
  const buffer = createEventBuffer<VisitorEvent>((batch) => recordVisitorEvents(db, batch), {
    // Page views come in faster than clicks: 1,000 a statement cost the database a fifth less per event than 500.
    maxBatch: 1000,
    maxPending: maxBufferedEvents,
    onError: (error, pending) => {
      if (isDatabaseDown(error)) logger.debug({ err: error, pending }, 'website events wait for the database');
      else logger.error({ err: error, pending }, 'website events could not be written; keeping them for the next attempt');
    },
    onFull: (maxPending) => logger.error({ maxPending }, 'website event buffer full: later events are refused (503) until the database takes writes again'),
  });

  const join = (visitorId: string, leadId: string, now: Date) => joinVisitorToLead(db, visitorId, leadId, now);

  /** A valid token joins before the event is buffered, so the event is written under the lead. */
  async function joinByToken(message: CollectMessage, now: Date): Promise<JoinOutcome | null> {
    const leadId = message.token ? tokens.verify(message.token, now) : null;
    return leadId ? join(message.visitor, leadId, now) : null;
  }

  async function identify(visitorId: string, traits: IdentifyTraits, now: Date): Promise<CollectOutcome> {
    const identified = await db.transaction().execute((trx) => leads.identify(trx, [traits.email], 'website'));
    const leadId = identified.idByEmail.get(traits.email.toLowerCase());
    if (!leadId) return { kind: 'suppressed' };
    await fillEmptyFields(leadId, traits);
    return { kind: 'identified', joined: await join(visitorId, leadId, now) };
  }

  /**
   * A page may say who it is, but not rewrite who a lead is: identify fills fields the lead does
   * not have yet and never overwrites one (anyone can type anyone's address into a form).
   */
  async function fillEmptyFields(leadId: string, traits: IdentifyTraits): Promise<void> {
    const lead = await leads.get(leadId);
    if (!lead) return;
    const patch: LeadFields = {};
    if (traits.firstName && lead.firstName === null) patch.firstName = traits.firstName;
    if (traits.lastName && lead.lastName === null) patch.lastName = traits.lastName;
    if (traits.company && lead.company === null) patch.company = traits.company;
    if (traits.title && lead.title === null) patch.title = traits.title;
    if (traits.phone && lead.phone === null && traits.phone.length <= 50 && PHONE_PATTERN.test(traits.phone)) patch.phone = traits.phone;
    if (Object.keys(patch).length > 0) await leads.update(leadId, patch);
  }

  const record = (message: Extract<CollectMessage, { kind: 'event' }>, now: Date, joined: JoinOutcome | null): CollectOutcome => {
    const pushed = buffer.push({ id: randomUUID(), visitorId: message.visitor, type: message.type, properties: message.properties, occurredAt: now });
    return pushed ? { kind: 'recorded', joined } : { kind: 'dropped' };
  };

  return {
    async collect(message, now) {
      const joined = await joinByToken(message, now);
      switch (message.kind) {
        case 'identify':
          return identify(message.visitor, message.traits, now);
        case 'event':
          return record(message, now, joined);
        default:
          return assertUnreachable(message);
      }
    },
    collectAnonymousEvent: (message, now) => (message.kind === 'event' && message.token === null ? record(message, now, null) : null),
    joinVisitorToLead: join,
    async pruneAnonymousVisitors(now) {
      const before = new Date(now.getTime() - retentionMs);
      let total = 0;
      for (;;) {
        const deleted = await deleteAnonymousVisitors(db, before, PRUNE_BATCH);
        total += deleted;
        if (deleted < PRUNE_BATCH) return total;
      }
    },
    buffered: () => ({ pending: buffer.pending(), dropped: buffer.dropped() }),
    flush: () => buffer.flush(),
    close: () => buffer.close(),
  };
}

function assertUnreachable(value: never): never {
  throw new Error(`unexpected collect message ${JSON.stringify(value)}`);
}
