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
import { buildOpenApiDocument, mountedRoutes, type MountedRoute } from './platform/http/openapi.js';
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
import { experimentsRoutes } from './experiments/experiments.routes.js';
import { createExperimentsService } from './experiments/experiments.service.js';
import { reportsRoutes } from './reporting/reports.routes.js';
import type { WebhookDeliveriesService } from './webhooks/webhook-deliveries.service.js';
import type { CaptureHandler } from './capture/capture.http.js';
import { espWebhookRoutes } from './feedback/esp/esp-webhooks.routes.js';
import type { EspWebhooks } from './feedback/esp/esp-webhooks.service.js';
import { ratesRoutes } from './feedback/rates.routes.js';
import { formsRoutes } from './forms/forms.routes.js';
import type { FormsService } from './forms/forms.service.js';

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
  /** The website snippet and /collect (capture/capture.http.ts); null without a site key. */
  capture?: CaptureHandler | null;
  /** Bounce and complaint webhooks of ESPs (src/feedback/esp); absent: none configured. */
  espWebhooks?: EspWebhooks | null;
  /** Public forms (forms/*.yaml) and double opt-in confirmations; absent in tests that do not need them. */
  forms?: FormsService | null;
  /** Topics the loaded sequences declare, offered on the preference page. */
  topics?: string[];
}

const API_INFO = {
  title: 'Baton API',
  version: '1',
  description:
    'Leads, events, sequences, scores and handoffs. Every call but this document needs the API key. Errors: { error: { code, message, details } }, validation errors naming each field.',
};

/**
 * Baton's HTTP handler, built from its dependencies so tests can drive it without a port:
 * click and open tracking first (the hot path, outside Express), then the Express app.
 */
export type BatonHttpHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** The routes mounted under /api (with their OpenAPI descriptions, if any). */
  apiRoutes(): MountedRoute[];
};

export function createApp(deps: AppDependencies): BatonHttpHandler {
  const tracking = createTrackingHandler(deps.services.tracking, (error) => deps.logger.error({ err: error }, 'click tracking failed'));
  const { app, api } = createExpressApp(deps);
  const capture = deps.capture ?? (() => false);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (!tracking(req, res) && !capture(req, res)) app(req, res);
  };
  return Object.assign(handler, { apiRoutes: () => mountedRoutes(api) });
}

function createExpressApp({
  apiKey,
  companyName,
  logger,
  services,
  pingDatabase,
  devMailDb = null,
  sequences = null,
  scoring = null,
  dashboard = null,
  webhookDeliveries = null,
  espWebhooks = null,
  forms = null,
  topics = [],
}: AppDependencies): { app: Express; api: express.Router } {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  // Query strings are parsed flat: `?tag=a&tag=b` must not turn into arrays or objects by surprise.
  app.set('query parser', 'simple');
  app.use(requestLogger(logger));

  app.use(healthRoutes(pingDatabase, () => services.tracking.buffered()));
  // Public: links in emails. No API key, no cookies.
  app.use(subscriptionsRoutes(services.subscriptions, companyName, topics));
  if (forms) app.use(formsRoutes(forms));
  if (scoring?.handoffs) app.use(handoffLinkRoutes(scoring.handoffs));
  // The first URL a newcomer opens leads to the dashboard.
  if (dashboard) app.get('/', (_req, res) => res.redirect(302, '/dashboard'));
  if (dashboard) app.use(dashboardRoutes(dashboard));
  if (espWebhooks) app.use(espWebhookRoutes(espWebhooks));

  const api = express.Router();
  api.use(requireApiKey(apiKey));
  api.use(leadsRoutes(services.leads));
  api.use(eventsRoutes(services.events));
  api.use(privacyRoutes(services.privacy));
  if (devMailDb) api.use(devMailRoutes(devMailDb));
  if (sequences) api.use(sequencesRoutes(sequences.runner, sequences.db));
  if (sequences) api.use(experimentsRoutes(createExperimentsService({ db: sequences.db, sequences: () => sequences.runner.sequences(), logger })));
  if (sequences) api.use(ratesRoutes(sequences.db));
  if (scoring) api.use(scoringRoutes(scoring.scoring));
  if (scoring?.handoffs) api.use(handoffApiRoutes(scoring.handoffs));
  if (webhookDeliveries) api.use(webhookDeliveriesRoutes(webhookDeliveries));
  api.use(reportsRoutes(services.reporting));
  // Without a scoring file (or its lifecycle section) these routes say why they cannot answer.
  const unconfigured = [...(scoring ? [] : ['/leads/:id/score']), ...(scoring?.handoffs ? [] : ['/handoffs', '/scoring'])];
  if (unconfigured.length > 0) {
    api.use(unconfigured, (_req, _res, next) => {
      next(
        new AppError(
          'scoring_not_configured',
          'Baton runs without scoring or handoffs: add scoring.yaml (with a lifecycle section) and sales-team.yaml, or set BATON_SCORING_FILE',
        ),
      );
    });
  }
  // The API's contract, read off the routes mounted above; public, like any API reference.
  let apiDocument: Record<string, unknown> | null = null;
  app.get('/api/openapi.json', (_req, res) => {
    apiDocument ??= buildOpenApiDocument(api, { prefix: '/api', ...API_INFO }).document;
    res.json(apiDocument);
  });
  app.use('/api', api);

  app.use(routeNotFound);
  app.use(errorMiddleware(logger));
  return { app, api };
}
