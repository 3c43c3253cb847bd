import type { Kysely } from 'kysely';
import type { Database } from './platform/db/schema.js';
import { createEventsService, type EventsService } from './events/events.service.js';
import { createLeadsService, LEAD_ERASED_CHANNEL, type LeadsService } from './leads/leads.service.js';
import { createPrivacyService, type PrivacyService } from './privacy/privacy.service.js';
import { createSuppressionService, type SuppressionService } from './suppression/suppression.service.js';
import { createTokenSigner, type TokenSigner } from './platform/signing.js';
import { createSubscriptionsService, type SubscriptionsService } from './subscriptions/subscriptions.service.js';
import { createTrackingService, type LandingUrl, type TrackingService } from './tracking/tracking.service.js';
import type pg from 'pg';
import { listenToChannel } from './platform/db/notifications.js';
import type { Logger } from './platform/logger.js';
import { countUnansweredHandedSends } from './sends/sends.repository.js';
import { createPreferencesService } from './consent/preferences.service.js';
import { createReportingService, type ReportingService } from './reporting/funnel.service.js';

export interface ServiceSettings {
  /** BATON_SECRET: keys for signed links. */
  secret: string;
  /** BATON_SECRET_PREVIOUS: links it signed still verify (during a rotation). */
  previousSecrets?: string[];
  /** BATON_PUBLIC_URL: base of tracking and unsubscribe links. */
  publicUrl: string;
  logger: Logger;
  /** BATON_TRACKING_BUFFER_MAX: clicks and opens kept in memory while the database is away. */
  maxBufferedEvents?: number;
  /**
   * A pool to LISTEN on for erasures on other processes, so their tracking links stop
   * redirecting here too. Without it, only this process's erasures clear its link cache.
   */
  listenPool?: pg.Pool | null;
  /** Where a person's click lands: the website snippet's signed visitor token added (capture). */
  landingUrl?: LandingUrl;
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
  /** The funnel report over the lifecycle history (src/reporting). */
  reporting: ReportingService;
}

/** Builds every domain service over one database. The database must be migrated. */
export async function createServices(db: Kysely<Database>, settings: ServiceSettings): Promise<Services> {
  const suppression = await createSuppressionService(db);
  const leads = createLeadsService(db, suppression);
  const events = createEventsService(db, leads);
  const unsubscribeSigner = createTokenSigner(settings.secret, 'unsubscribe', settings.previousSecrets);
  const tracking = createTrackingService(
    db,
    events,
    {
      secret: settings.secret,
      previousSecrets: settings.previousSecrets,
      publicUrl: settings.publicUrl,
      maxBufferedEvents: settings.maxBufferedEvents,
      landingUrl: settings.landingUrl,
    },
    settings.logger,
  );
  // An erased lead's tracked links answer 404 at once: here when the erasure returns, on other
  // processes when PostgreSQL delivers its notification (see leads.service.ts erase).
  const erasures = settings.listenPool
    ? await listenToChannel(
        settings.listenPool,
        LEAD_ERASED_CHANNEL,
        { onMessage: (leadId) => tracking.forgetLead(leadId), onGap: () => tracking.forgetAll() },
        settings.logger,
      )
    : null;
  return {
    suppression,
    leads: {
      ...leads,
      async erase(id) {
        const erased = await leads.erase(id);
        if (erased) tracking.forgetLead(id);
        return erased;
      },
    },
    events,
    privacy: createPrivacyService(db, leads, events),
    // Handed over in the last ten minutes: an older claim is a dead worker's, which the sweep marks.
    subscriptions: createSubscriptionsService(
      unsubscribeSigner,
      leads,
      events,
      (leadId) => countUnansweredHandedSends(db, leadId, new Date(Date.now() - 10 * 60_000)),
      createPreferencesService(db),
    ),
    tracking: {
      ...tracking,
      async close() {
        await erasures?.close();
        await tracking.close();
      },
    },
    unsubscribeSigner,
    reporting: createReportingService(db),
  };
}
