import type { Kysely } from 'kysely';
import type { EventsService } from '../events/events.service.js';
import type { LeadEvent } from '../events/event.js';
import type { Lead } from '../leads/lead.js';
import type { ConsentRecord, Database } from '../platform/db/schema.js';
import type { LeadsService } from '../leads/leads.service.js';
import { findLeadRows, type LeadRows } from './privacy.repository.js';

/**
 * GDPR access: everything Baton holds about one person, in one machine-readable document. Rows
 * are given as stored (snake_case columns), so nothing is left out by a mapping.
 */
export interface LeadDataExport extends LeadRows {
  exportedAt: string;
  lead: Lead;
  /** The proof of consent kept with the lead (source, time, text version), or null. */
  consent: ConsentRecord | null;
  events: LeadEvent[];
}

export interface PrivacyService {
  exportLead(id: string): Promise<LeadDataExport | null>;
}

export function createPrivacyService(db: Kysely<Database>, leads: LeadsService, events: EventsService, clock: () => Date = () => new Date()): PrivacyService {
  return {
    async exportLead(id) {
      const lead = await leads.get(id);
      if (!lead) return null;
      const [rows, leadEvents] = await Promise.all([findLeadRows(db, id), events.allForLead(id)]);
      return { exportedAt: clock().toISOString(), lead, consent: lead.consent, events: leadEvents, ...rows };
    },
  };
}
