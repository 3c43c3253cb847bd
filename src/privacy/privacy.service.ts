import type { EventsService } from '../events/events.service.js';
import type { LeadEvent } from '../events/event.js';
import type { Lead } from '../leads/lead.js';
import type { LeadsService } from '../leads/leads.service.js';

/** GDPR access: everything Baton holds about one person, in one machine-readable document. */
export interface LeadDataExport {
  exportedAt: string;
  lead: Lead;
  events: LeadEvent[];
}

export interface PrivacyService {
  exportLead(id: string): Promise<LeadDataExport | null>;
}

export function createPrivacyService(leads: LeadsService, events: EventsService, clock: () => Date = () => new Date()): PrivacyService {
  return {
    async exportLead(id) {
      const lead = await leads.get(id);
      if (!lead) return null;
      return { exportedAt: clock().toISOString(), lead, events: await events.allForLead(id) };
    },
  };
}
