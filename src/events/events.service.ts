import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination.js';
import type { LeadsService } from '../leads/leads.service.js';
import { toEvent, type EventInput, type LeadEvent } from './event.js';
import { insertEvents, insertEventsForExistingLeads, listEventsForLead, listTimeline, type NewEvent } from './events.repository.js';
import type { TimelineQuery } from './events.schemas.js';

export interface EventRejection {
  index: number;
  field: 'leadId' | 'email';
  code: 'lead_not_found' | 'email_suppressed';
  message: string;
}

export interface IngestResult {
  /** One entry per input event: its id, or null when it was rejected. */
  ids: Array<string | null>;
  accepted: number;
  rejected: EventRejection[];
}

export interface EventsService {
  ingest(events: EventInput[]): Promise<IngestResult>;
  /** Null when the lead does not exist. */
  timeline(leadId: string, query: TimelineQuery): Promise<Page<LeadEvent> | null>;
  /** Every event of a lead, oldest first (data export). */
  allForLead(leadId: string): Promise<LeadEvent[]>;
  /** Events Baton records itself (reserved types such as unsubscribed); no validation of types. */
  record(events: NewEvent[]): Promise<string[]>;
  /** The same for tracking batches: events of leads erased meanwhile are dropped, not failed. */
  recordIfLeadExists(events: NewEvent[]): Promise<number>;
}

export function createEventsService(db: Kysely<Database>, leads: LeadsService): EventsService {
  return {
    /**
     * One transaction: the leads are resolved and locked (an erasure waits for it), an unknown
     * email creates a lead with source "event", and the events are appended.
     */
    async ingest(events) {
      return db.transaction().execute(async (trx) => {
        const emails = events.flatMap((event) => (event.email ? [event.email] : []));
        const { idByEmail } = await leads.identify(trx, emails, 'event');
        const existingIds = await leads.lockIds(
          trx,
          events.flatMap((event) => (event.leadId ? [event.leadId] : [])),
        );

        const rejected: EventRejection[] = [];
        const accepted: NewEvent[] = [];
        const positions: number[] = [];
        events.forEach((event, index) => {
          const leadId = event.leadId ? (existingIds.has(event.leadId) ? event.leadId : null) : (idByEmail.get((event.email ?? '').toLowerCase()) ?? null);
          if (leadId) {
            accepted.push({ leadId, type: event.type, properties: event.properties, occurredAt: event.occurredAt });
            positions.push(index);
          } else if (event.leadId) {
            rejected.push({ index, field: 'leadId', code: 'lead_not_found', message: `no lead has id ${event.leadId}` });
          } else {
            rejected.push({ index, field: 'email', code: 'email_suppressed', message: `${event.email ?? ''} is suppressed; its events are not stored` });
          }
        });
        const insertedIds = await insertEvents(trx, accepted);
        const ids: Array<string | null> = events.map(() => null);
        positions.forEach((position, i) => (ids[position] = insertedIds[i] ?? null));
        return { ids, accepted: accepted.length, rejected };
      });
    },

    async timeline(leadId, query) {
      const before = query.cursor ? decodeCursor(query.cursor) : undefined;
      if (!(await leads.exists(leadId))) return null;
      const rows = await listTimeline(db, { leadId, type: query.type, before, limit: query.limit });
      return toPage(rows, query.limit, (row) => ({ at: row.occurred_at, id: row.id }), toEvent);
    },

    async allForLead(leadId) {
      return (await listEventsForLead(db, leadId)).map(toEvent);
    },

    record: (events) => insertEvents(db, events),
    recordIfLeadExists: (events) => insertEventsForExistingLeads(db, events),
  };
}
