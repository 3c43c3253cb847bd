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
    privacy: createPrivacyService(db, leads, events),
    subscriptions: createSubscriptionsService(unsubscribeSigner, leads, events),
    tracking: createTrackingService(db, events, { secret: settings.secret, publicUrl: settings.publicUrl }, settings.logger),
    unsubscribeSigner,
  };
}
