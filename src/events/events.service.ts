import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination.js';
import type { SuppressionService } from '../suppression/suppression.service.js';
import { findExistingLeadIds, findLeadsByEmails, upsertLeads } from '../leads/leads.repository.js';
import { toEvent, type EventInput, type LeadEvent } from './event.js';
import { insertEvents, listTimeline, type NewEvent } from './events.repository.js';
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
}

export function createEventsService(db: Kysely<Database>, suppression: SuppressionService): EventsService {
  /**
   * Resolves each event's lead. An unknown email creates a lead (source "event"), as a first page
   * view or form submit usually is how a lead appears; an erased address is refused.
   */
  async function resolveLeads(events: EventInput[]): Promise<{ leadIds: Array<string | null>; rejected: EventRejection[] }> {
    const rejected: EventRejection[] = [];
    const existingIds = await findExistingLeadIds(db, [...new Set(events.flatMap((event) => (event.leadId ? [event.leadId] : [])))]);
    const emails = [...new Set(events.flatMap((event) => (event.email ? [event.email.toLowerCase()] : [])))];
    const idByEmail = new Map((await findLeadsByEmails(db, emails)).map((row) => [row.email.toLowerCase(), row.id]));
    const unknownEmails = emails.filter((email) => !idByEmail.has(email));
    const suppressed = await suppression.suppressedAmong(unknownEmails);
    const toCreate = unknownEmails.filter((email) => !suppressed.has(email));
    for (const { row } of await upsertLeads(db, toCreate.map((email) => ({ email, source: 'event' })))) {
      idByEmail.set(row.email.toLowerCase(), row.id);
    }

    const leadIds = events.map((event, index) => {
      if (event.leadId) {
        if (existingIds.has(event.leadId)) return event.leadId;
        rejected.push({ index, field: 'leadId', code: 'lead_not_found', message: `no lead has id ${event.leadId}` });
        return null;
      }
      const email = (event.email ?? '').toLowerCase();
      const id = idByEmail.get(email);
      if (id) return id;
      rejected.push({ index, field: 'email', code: 'email_suppressed', message: `${event.email ?? ''} is suppressed; its events are not stored` });
      return null;
    });
    return { leadIds, rejected };
  }

  return {
    async ingest(events) {
      const { leadIds, rejected } = await resolveLeads(events);
      const accepted: NewEvent[] = [];
      const positions: number[] = [];
      events.forEach((event, index) => {
        const leadId = leadIds[index];
        if (!leadId) return;
        accepted.push({ leadId, type: event.type, properties: event.properties, occurredAt: event.occurredAt });
        positions.push(index);
      });
      const insertedIds = await insertEvents(db, accepted);
      const ids: Array<string | null> = events.map(() => null);
      positions.forEach((position, i) => (ids[position] = insertedIds[i] ?? null));
      return { ids, accepted: accepted.length, rejected };
    },

    async timeline(leadId, query) {
      const before = query.cursor ? decodeCursor(query.cursor) : undefined;
      const [exists] = await findExistingLeadIds(db, [leadId]);
      if (!exists) return null;
      const rows = await listTimeline(db, { leadId, type: query.type, before, limit: query.limit });
      return toPage(rows, query.limit, (row) => ({ at: row.occurred_at, id: row.id }), toEvent);
    },
  };
}
