import express, { type Express } from 'express';
import { eventsRoutes } from './events/events.routes.js';
import { healthRoutes } from './health/health.routes.js';
import { leadsRoutes } from './leads/leads.routes.js';
import { devMailRoutes } from './mail/dev-mail.routes.js';
import { privacyRoutes } from './privacy/privacy.routes.js';
import { subscriptionsRoutes } from './subscriptions/subscriptions.routes.js';
import { createTrackingHandler } from './tracking/tracking.http.js';
import { sequencesRoutes } from './enrollments/sequences.routes.js';
import type { SequenceRunner } from './enrollments/sequence-runner.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requireApiKey } from './platform/http/auth.js';
import { errorMiddleware, routeNotFound } from './platform/http/error-middleware.js';
import { requestLogger } from './platform/http/request-logger.js';
import type { Kysely } from 'kysely';
import type { Database } from './platform/db/schema.js';
import type { Logger } from './platform/logger.js';
import type { Services } from './services.js';
import { handoffApiRoutes, handoffLinkRoutes } from './handoff/handoff.routes.js';
import type { HandoffService } from './handoff/handoff.service.js';
import { scoringRoutes } from './scoring/scoring.routes.js';
import type { ScoringService } from './scoring/scoring.service.js';
import { AppError } from './platform/errors.js';
import { dashboardRoutes, type DashboardDeps } from './dashboard/dashboard.routes.js';
import { webhookDeliveriesRoutes } from './webhooks/webhook-deliveries.routes.js';
import { reportsRoutes } from './reporting/reports.routes.js';
import type { WebhookDeliveriesService } from './webhooks/webhook-deliveries.service.js';

export interface AppDependencies {
  apiKey: string;
  /** Shown on the public unsubscribe pages. */
  companyName: string;
  logger: Logger;
  services: Services;
  pingDatabase: () => Promise<boolean>;
  /** The database whose dev_mail table the embedded SMTP sink fills; null when mail goes to SMTP_URL. */
  devMailDb?: Kysely<Database> | null;
  /** The sequence engine and its database; absent in tests that do not need them. */
  sequences?: { runner: SequenceRunner; db: Kysely<Database> } | null;
  /** Scores and handoffs; null when Baton runs without a scoring file. */
  scoring?: { scoring: ScoringService; handoffs: HandoffService | null } | null;
  /** The web dashboard at /dashboard; absent in tests that do not need it. */
  dashboard?: DashboardDeps | null;
  /** Lifecycle webhook deliveries (webhooks.yaml); absent in tests that do not need them. */
  webhookDeliveries?: WebhookDeliveriesService | null;
}

/**
 * Baton's HTTP handler, built from its dependencies so tests can drive it without a port:
 * click and open tracking first (the hot path, outside Express), then the Express app.
 */
export function createApp(deps: AppDependencies): (req: IncomingMessage, res: ServerResponse) => void {
  const tracking = createTrackingHandler(deps.services.tracking, (error) => deps.logger.error({ err: error }, 'click tracking failed'));
  const app = createExpressApp(deps);
  return (req, res) => {
    if (!tracking(req, res)) app(req, res);
  };
}

function createExpressApp({ apiKey, companyName, logger, services, pingDatabase, devMailDb = null, sequences = null, scoring = null, dashboard = null, webhookDeliveries = null }: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  // Query strings are parsed flat: `?tag=a&tag=b` must not turn into arrays or objects by surprise.
  app.set('query parser', 'simple');
  app.use(requestLogger(logger));

  app.use(healthRoutes(pingDatabase, () => services.tracking.buffered()));
  // Public: links in emails. No API key, no cookies.
  app.use(subscriptionsRoutes(services.subscriptions, companyName));
  if (scoring?.handoffs) app.use(handoffLinkRoutes(scoring.handoffs));
  // The first URL a newcomer opens leads to the dashboard.
  if (dashboard) app.get('/', (_req, res) => res.redirect(302, '/dashboard'));
  if (dashboard) app.use(dashboardRoutes(dashboard));

  const api = express.Router();
  api.use(requireApiKey(apiKey));
  api.use(leadsRoutes(services.leads));
  api.use(eventsRoutes(services.events));
  api.use(privacyRoutes(services.privacy));
  if (devMailDb) api.use(devMailRoutes(devMailDb));
  if (sequences) api.use(sequencesRoutes(sequences.runner, sequences.db));
  if (scoring) api.use(scoringRoutes(scoring.scoring));
  if (scoring?.handoffs) api.use(handoffApiRoutes(scoring.handoffs));
  if (webhookDeliveries) api.use(webhookDeliveriesRoutes(webhookDeliveries));
  api.use(reportsRoutes(services.reporting));
  // Without a scoring file (or its lifecycle section) these routes say why they cannot answer.
  const unconfigured = [...(scoring ? [] : ['/leads/:id/score']), ...(scoring?.handoffs ? [] : ['/handoffs', '/scoring'])];
  if (unconfigured.length > 0) {
    api.use(unconfigured, (_req, _res, next) => {
      next(new AppError('scoring_not_configured', 'Baton runs without scoring or handoffs: add scoring.yaml (with a lifecycle section) and sales-team.yaml, or set BATON_SCORING_FILE'));
    });
  }
  app.use('/api', api);

  app.use(routeNotFound);
  app.use(errorMiddleware(logger));
  return app;
}
