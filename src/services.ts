import type { Kysely } from 'kysely';
import type { Database } from './platform/db/schema.js';
import { createEventsService, type EventsService } from './events/events.service.js';
import { createLeadsService, type LeadsService } from './leads/leads.service.js';
import { createPrivacyService, type PrivacyService } from './privacy/privacy.service.js';
import { createSuppressionService, type SuppressionService } from './suppression/suppression.service.js';

export interface Services {
  suppression: SuppressionService;
  leads: LeadsService;
  events: EventsService;
  privacy: PrivacyService;
}

/** Builds every domain service over one database. The database must be migrated. */
export async function createServices(db: Kysely<Database>): Promise<Services> {
  const suppression = await createSuppressionService(db);
  const leads = createLeadsService(db, suppression);
  const events = createEventsService(db, leads);
  return { suppression, leads, events, privacy: createPrivacyService(leads, events) };
}
