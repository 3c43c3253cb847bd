import type { Kysely } from 'kysely';
import type { Database } from './platform/db/schema.js';
import { createEventsService, type EventsService } from './events/events.service.js';
import { createLeadsService, type LeadsService } from './leads/leads.service.js';
import { createPrivacyService, type PrivacyService } from './privacy/privacy.service.js';
import { createSuppressionService, type SuppressionService } from './suppression/suppression.service.js';
import { createTokenSigner, type TokenSigner } from './platform/signing.js';
import { createSubscriptionsService, type SubscriptionsService } from './subscriptions/subscriptions.service.js';
import { createTrackingService, type TrackingService } from './tracking/tracking.service.js';
import type { Logger } from './platform/logger.js';
import { countUnansweredHandedSends } from './sends/sends.repository.js';

export interface ServiceSettings {
  /** BATON_SECRET: keys for signed links. */
  secret: string;
  /** BATON_PUBLIC_URL: base of tracking and unsubscribe links. */
  publicUrl: string;
  logger: Logger;
}

export interface Services {
  suppression: SuppressionService;
  leads: LeadsService;
  events: EventsService;
  privacy: PrivacyService;
  subscriptions: SubscriptionsService;
  tracking: TrackingService;
  /** Signs the tokens in unsubscribe links. */
  unsubscribeSigner: TokenSigner;
}

/** Builds every domain service over one database. The database must be migrated. */
export async function createServices(db: Kysely<Database>, settings: ServiceSettings): Promise<Services> {
  const suppression = await createSuppressionService(db);
  const leads = createLeadsService(db, suppression);
  const events = createEventsService(db, leads);
  const unsubscribeSigner = createTokenSigner(settings.secret, 'unsubscribe');
  return {
    suppression,
    leads,
    events,
    privacy: createPrivacyService(leads, events),
    // Handed over in the last ten minutes: an older claim is a dead worker's, which the sweep marks.
    subscriptions: createSubscriptionsService(unsubscribeSigner, leads, events, (leadId) => countUnansweredHandedSends(db, leadId, new Date(Date.now() - 10 * 60_000))),
    tracking: createTrackingService(db, events, { secret: settings.secret, publicUrl: settings.publicUrl }, settings.logger),
    unsubscribeSigner,
  };
}
