import type { Selectable } from 'kysely';
import type { EventsTable } from '../platform/db/schema.js';

export interface LeadEvent {
  id: string;
  leadId: string;
  type: string;
  properties: Record<string, unknown>;
  occurredAt: string;
  receivedAt: string;
}

/** One event as a client sends it: identified by lead id or by email, never both. */
export interface EventInput {
  leadId?: string;
  email?: string;
  type: string;
  properties: Record<string, unknown>;
  occurredAt: Date;
}

/**
 * Types Baton records itself from tracking and the engine. Clients may not send them, or a POST
 * could fake an email click and move a score.
 */
export const RESERVED_EVENT_TYPE = /^(email_|handoff_|baton_|unsubscribed$)/;

export type EventRow = Selectable<EventsTable>;

export function toEvent(row: EventRow): LeadEvent {
  return {
    id: row.id,
    leadId: row.lead_id,
    type: row.type,
    properties: row.properties,
    occurredAt: row.occurred_at.toISOString(),
    receivedAt: row.received_at.toISOString(),
  };
}
