import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import type { MountedRoute } from './platform/http/openapi.js';
import type { Config } from './platform/config.js';
import { openDatabase, type DatabaseHandle } from './platform/db/database.js';
import { migrate } from './platform/db/migrate.js';
import type { Logger } from './platform/logger.js';
import { startMailSink, type MailSink } from './mail/mail-sink.js';
import { createMailTransport } from './mail/mail-transport.js';
import { createEmailDelivery } from './sends/email-delivery.js';
import { createFormsService } from './forms/forms.service.js';
import { createSequenceRunner, STEP_JOB, type JobQueue, type StepJob } from './enrollments/sequence-runner.js';
import { createWebhookSender, webhookRetryDelayMs } from './webhooks/webhook-sender.js';
import { createScheduler, type JobDefinition, type Scheduler } from './platform/scheduler.js';
import { resolveSecrets, type ResolvedSecrets } from './platform/secrets.js';
import { createServices, type Services } from './services.js';
import type { Sequence } from './sequences/sequence.js';
import { createScoringService, type ScoringService } from './scoring/scoring.service.js';
import { createHandoffService, type HandoffService } from './handoff/handoff.service.js';
import { createHandoffNotifier } from './handoff/handoff-notifier.js';
import { stepHandoff } from './handoff/step-handoff.js';
import { contentPaths, loadContent } from './content/content-loader.js';
import { startBackgroundWork, startExperimentWork, startLoop, startScoringWork, startWebhookWork } from './worker-loops.js';
import { createExperimentsService } from './experiments/experiments.service.js';
import { createTokenSigner } from './platform/signing.js';
import { signInMail } from './dashboard/sign-in-mail.js';
import { createWebhookDeliveriesService } from './webhooks/webhook-deliveries.service.js';
import { senderIdentityFindings } from './identity/sender-identity.js';
import { createVisitorTokens, startCapture, visitorLandingUrl } from './capture/capture-setup.js';
import { isVisitorId } from './capture/collect-message.js';
import { joinVisitorToLead } from './capture/visitor-join.js';
import { feedbackConfigProblems, startFeedback, type FeedbackRuntime } from './feedback/feedback-runtime.js';

/** Step jobs (other than email) one worker runs at once. */
const STEP_CONCURRENCY = 10;
/** SMTP connections per worker: a batch's emails go out over these in parallel. */
const SMTP_CONNECTIONS = 10;
/** How often every process refreshes its triggers' interests (an interest unrefreshed for an hour is dropped). */
const TRIGGER_INTERESTS_EVERY_MS = 60_000;

export interface RunningBaton {
  /** Base URL of the HTTP server, when this process serves the API. */
  url: string | null;
  secrets: ResolvedSecrets;
  database: DatabaseHandle;
  /** The composed services, for in-process tests. */
  services: Services;
  /** The routes this process serves under /api (none in a worker). */
  apiRoutes(): MountedRoute[];
  /** Graceful stop: no new requests, in-flight work finished, database closed. */
  stop(): Promise<void>;
}

/** Boots one Baton process in its role: opens and migrates the database, then serves and/or works. */
export async function startBaton(config: Config, logger: Logger): Promise<RunningBaton> {
  // Content first: a broken file stops Baton before it touches the database.
  const loaded = await loadContent(contentPaths(config), path.join(config.dataDir, 'template-cache'));
  if (!loaded.ok) throw new ContentError(loaded.problems);
  const content = loaded.content;
  const missingSecrets = [
    ...webhookSecretProblems(content.sequences, config.webhooks.secrets),
    ...handoffWebhookProblems(config),
    ...feedbackConfigProblems(config.feedback),
  ];
  if (missingSecrets.length > 0) throw new ContentError(missingSecrets);
  logger.info(
    { templates: content.templates.names().length, sequences: content.sequences.map((sequence) => `${sequence.id}@${sequence.version}`) },
    'templates and sequences loaded',
  );
  for (const finding of senderIdentityFindings({ mailFrom: config.mailFrom, dkimDomain: config.dkim?.domainName ?? null }))
    logger.warn(`${finding} (refused in production)`);
  const secrets = await resolveSecrets(config);
  const previousSecrets = config.previousSecret ? [config.previousSecret] : [];
  const database = await openDatabase({
    url: config.databaseUrl,
    embeddedDir: config.dataDir,
    poolSize: config.databasePoolSize,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    onPoolError: (error) => logger.debug({ err: error }, 'a database connection failed; the pool will replace it'),
    onAvailabilityChange: (state, cause) => {
      if (state === 'down') logger.warn({ err: cause }, 'the database is not answering: requests get 503 and work waits until it is back');
      else logger.info('the database answers again');
    },
  });
  let startedScheduler: Scheduler | null = null;
  let startedFeedback: FeedbackRuntime | null = null;
  try {
    const applied = await migrate(database.pool);
    logger.info({ database: database.kind, migrationsApplied: applied }, 'database ready');
    const visitorTokens = createVisitorTokens(secrets.secret, previousSecrets);
    const services = await createServices(database.db, {
      secret: secrets.secret,
      previousSecrets,
      publicUrl: config.publicUrl,
      logger,
      listenPool: database.pool,
      maxBufferedEvents: config.trackingBufferMax,
      landingUrl: visitorLandingUrl(visitorTokens, config.capture.siteOrigins),
    });
    // The website snippet and /collect, when there is a site key (docs/capture.md).
    const capture = secrets.siteKey
      ? startCapture({
          config: config.capture,
          siteKey: secrets.siteKey,
          db: database.db,
          leads: services.leads,
          tokens: visitorTokens,
          logger,
          worker: config.role !== 'api',
          maxBufferedEvents: config.trackingBufferMax,
        })
      : null;
    // Without SMTP_URL, mail goes to the embedded sink, which keeps it for GET /api/dev/mail.
    const sink: MailSink | null = config.smtpUrl ? null : await startMailSink(database.db, logger);
    const smtpUrl = config.smtpUrl ?? sink?.url ?? '';
    logger.info({ smtp: sink ? `embedded sink at ${smtpUrl}` : 'SMTP_URL' }, 'mail ready');
    // A batch's claimed sends wait for a connection for well under a second: the window in
    // which a crash leaves a send `unknown` stays short.
    const transport = createMailTransport(smtpUrl, config.dkim, SMTP_CONNECTIONS);

    // The runner schedules through Agenda, and Agenda's job calls the runner: tie the knot late.
    let scheduler: Scheduler | null = null;
    const queue: JobQueue = {
      async schedule(at, job) {
        if (!scheduler) throw new Error('scheduler not started');
        await scheduler.agenda.schedule(at, STEP_JOB, job);
      },
    };
    const workerName = `baton-${config.role}-${process.pid}`;
    const feedback = await startFeedback({
      config: config.feedback,
      db: database.db,
      suppression: services.suppression,
      secret: secrets.secret,
      previousSecrets,
      logger,
    });
    startedFeedback = feedback;
    const delivery = createEmailDelivery({
      db: database.db,
      leads: services.leads,
      events: services.events,
      suppression: services.suppression,
      templates: content.templates,
      tracking: services.tracking,
      transport,
      unsubscribeSigner: services.unsubscribeSigner,
      settings: { publicUrl: config.publicUrl, mailFrom: config.mailFrom, company: config.company },
      logger,
      worker: workerName,
      utmFor: (sequenceId) => content.sequences.find((sequence) => sequence.id === sequenceId)?.utm,
      feedbackAddresses: feedback.addresses,
      smtpFeedback: feedback.smtp,
      domainGate: feedback.domainGate,
      topicOf: (sequenceId) => content.sequences.find((sequence) => sequence.id === sequenceId)?.topic ?? null,
    });
    const runner = createSequenceRunner({
      db: database.db,
      leads: services.leads,
      delivery,
      queue,
      logger,
      sequences: content.sequences,
      isMarketing: (template) => content.templates.get(template)?.meta.category !== 'transactional',
      frequencyCap: config.frequencyCap,
      webhooks: {
        // Plain http only outside production (a local receiver while developing a sequence).
        sender: createWebhookSender({ allowPrivate: config.webhooks.allowPrivate, allowInsecure: config.nodeEnv !== 'production' }),
        secrets: config.webhooks.secrets,
        retryDelayMs: (attempt) => webhookRetryDelayMs(attempt),
      },
      handoff: () => (handoffs && scoring ? stepHandoff({ db: database.db, handoffs, scoring }) : null),
    });

    // Every role tells the database what its content's triggers listen to, before it serves: a
    // lead tagged through an api started before any worker is queued all the same.
    await runner.registerTriggers(new Date());

    // Scoring and the handoff to sales, when a scoring file is there. The two refer to each other
    // (a score crossing the threshold hands off; a rejection resets the score): tied late.
    let scoring: ScoringService | null = null;
    let handoffs: HandoffService | null = null;
    let kickNotifications = () => {};
    if (content.scoring) {
      const { config: scoringConfig, team } = content.scoring;
      handoffs = team
        ? createHandoffService({
            db: database.db,
            leads: services.leads,
            team,
            scoring: () => {
              if (!scoring) throw new Error('scoring not started');
              return scoring;
            },
            config: scoringConfig,
            sequenceName: (id) => content.sequences.find((sequence) => sequence.id === id)?.name ?? id,
            enroll: (sequenceId, leadId, now) => runner.enroll(sequenceId, leadId, now),
            notifier: createHandoffNotifier({
              templates: content.templates,
              transport,
              webhooks: createWebhookSender({ allowPrivate: config.webhooks.allowPrivate, allowInsecure: config.nodeEnv !== 'production' }),
              webhookSecrets: config.webhooks.secrets[''] ? [config.webhooks.secrets['']] : [],
              mailFrom: config.mailFrom,
              company: config.company,
            }),
            webhooks: config.webhooks.handoff,
            linkSigner: createTokenSigner(secrets.secret, 'handoff', previousSecrets),
            publicUrl: config.publicUrl,
            logger,
            onQueued: () => kickNotifications(),
          })
        : null;
      const handoffService = handoffs;
      scoring = createScoringService({
        db: database.db,
        leads: services.leads,
        config: scoringConfig,
        logger,
        onMarketingQualified: handoffService
          ? (leadId, score, from, now, cause, known) => handoffService.handOff(leadId, score, from, now, cause, known)
          : null,
      });
    }

    // Lifecycle webhooks (webhooks.yaml): every role tells the database triggers what to record.
    const webhookDeliveries = createWebhookDeliveriesService({
      db: database.db,
      endpoints: content.webhooks,
      logger,
      sender: createWebhookSender({ allowPrivate: config.webhooks.allowPrivate, allowInsecure: config.nodeEnv !== 'production' }),
    });
    await webhookDeliveries.activate();

    let server: http.Server | null = null;
    let url: string | null = null;
    let apiRoutes = (): MountedRoute[] => [];
    if (config.role !== 'worker') {
      const app = createApp({
        apiKey: secrets.apiKey,
        companyName: config.company.name,
        logger,
        services,
        pingDatabase: database.ping,
        devMailDb: sink ? database.db : null,
        sequences: { runner, db: database.db },
        scoring: scoring ? { scoring, handoffs } : null,
        dashboard: {
          apiKey: secrets.apiKey,
          secret: secrets.secret,
          publicUrl: config.publicUrl,
          secureCookies: config.publicUrl.startsWith('https:'),
          services,
          runner,
          db: database.db,
          templates: content.templates,
          company: config.company,
          scoring: scoring ? { scoring, handoffs } : null,
          devMail: sink !== null,
          logger,
          reps: content.scoring?.team?.reps ?? [],
          sendSignInLink: async (rep, link) => {
            const mail = signInMail({ repName: rep.name, url: link, company: config.company.name });
            const sent = await transport.send({ from: config.mailFrom, to: rep.email, ...mail });
            if (sent.outcome.kind !== 'sent') logger.warn({ rep: rep.id, reason: sent.outcome.reason }, 'a sign-in link was not accepted by SMTP');
          },
        },
        webhookDeliveries,
        capture: capture?.handler ?? null,
        espWebhooks: feedback.espWebhooks,
        forms: createFormsService({
          db: database.db,
          forms: content.forms,
          leads: services.leads,
          events: services.events,
          transport,
          logger,
          enroll: (sequenceId, leadId, now) => runner.enroll(sequenceId, leadId, now),
          startedSigner: createTokenSigner(secrets.secret, 'form-started', previousSecrets),
          optInSigner: createTokenSigner(secrets.secret, 'opt-in', previousSecrets),
          settings: { publicUrl: config.publicUrl, mailFrom: config.mailFrom, company: config.company },
          // A form posted from a page with the snippet carries the visitor id: its earlier page views join the lead.
          joinVisitor: async (visitorId, leadId, now) => {
            if (isVisitorId(visitorId)) await joinVisitorToLead(database.db, visitorId, leadId, now);
          },
        }),
        topics: [...new Set(content.sequences.flatMap((sequence) => (sequence.topic ? [sequence.topic] : [])))],
      });
      apiRoutes = app.apiRoutes;
      server = http.createServer(app);
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(config.port, config.host, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
    }

    // Every role starts Agenda so that jobs it schedules wake workers through NOTIFY at once; an
    // api process defines no jobs, so it runs none.
    const jobDefinitions: JobDefinition[] = [
      {
        name: STEP_JOB,
        concurrency: STEP_CONCURRENCY,
        // No lockLimit: Agenda locks at most that many per poll (every 5 s), which capped two
        // workers at about 8 emails/s. Without it, a worker that dies strands its locked jobs
        // until Agenda's 10-minute lock lifetime passes.
        handler: async (data: unknown) => {
          if (!isStepJob(data)) throw new Error(`malformed ${STEP_JOB} job data`);
          await runner.runStep(data, new Date());
        },
      },
    ];
    const started = createScheduler(database.pool, logger, workerName, config.role === 'api' ? [] : jobDefinitions);
    scheduler = started;
    startedScheduler = started;
    await started.start();
    // Enrollments whose step an edit removed are parked, the rest re-pinned (and their waits re-timed).
    if (config.role !== 'api') await runner.prepare();
    if (config.role !== 'api') await scoring?.activate();
    const triggerInterests = startLoop('trigger interests', TRIGGER_INTERESTS_EVERY_MS, logger, () => runner.registerTriggers(new Date()));
    const background = config.role === 'api' ? null : startBackgroundWork(runner, logger, workerName);
    const scoringWork = config.role === 'api' || !scoring ? null : startScoringWork(scoring, handoffs, logger);
    if (scoringWork) kickNotifications = scoringWork.kickNotifications;
    const webhookWork = config.role === 'api' ? null : startWebhookWork(webhookDeliveries, logger);
    const experimentWork =
      config.role === 'api' ? null : startExperimentWork(createExperimentsService({ db: database.db, sequences: () => runner.sequences(), logger }), logger);

    let stopping: Promise<void> | null = null;
    const stop = () => {
      stopping ??= (async () => {
        if (server) await closeHttpServer(server, config.shutdownTimeoutMs);
        // Clicks and opens answered before the server closed are still in the buffer.
        await services.tracking.close();
        await capture?.stop();
        await background?.stop();
        await triggerInterests.stop();
        await scoringWork?.stop();
        await webhookWork?.stop();
        await experimentWork?.stop();
        await feedback.stop();
        await started.stop(config.shutdownTimeoutMs);
        transport.close();
        if (sink) await sink.close();
        await database.close();
      })();
      return stopping;
    };
    return { url, secrets, database, services, apiRoutes: () => apiRoutes(), stop };
  } catch (error) {
    // Agenda holds pool connections: stop it first, or closing the database waits forever.
    await startedScheduler?.stop(0).catch(() => undefined);
    await startedFeedback?.stop().catch(() => undefined);
    await database.close().catch(() => undefined);
    throw error;
  }
}

function isStepJob(data: unknown): data is StepJob {
  return (
    typeof data === 'object' &&
    data !== null &&
    'enrollmentId' in data &&
    typeof data.enrollmentId === 'string' &&
    'stepId' in data &&
    typeof data.stepId === 'string' &&
    (!('attempt' in data) || data.attempt === undefined || (typeof data.attempt === 'number' && Number.isInteger(data.attempt) && data.attempt >= 0))
  );
}

/** Handoff webhooks in the standard format are signed: the secret must be there at start. */
function handoffWebhookProblems(config: Config): string[] {
  if (config.webhooks.secrets[''] !== undefined || !config.webhooks.handoff.some((hook) => hook.format === 'standard')) return [];
  return ['BATON_HANDOFF_WEBHOOKS: handoff webhooks are signed with BATON_WEBHOOK_SECRET, which is not set (whsec_ + base64)'];
}

/** Every webhook step must be signed with a configured secret; checked at start, not at the first send. */
function webhookSecretProblems(sequences: Sequence[], secrets: Record<string, string>): string[] {
  return sequences.flatMap((sequence) =>
    sequence.steps.flatMap((step) => {
      if (step.kind !== 'webhook' || secrets[step.webhook.secret ?? ''] !== undefined) return [];
      const variable = step.webhook.secret ? `BATON_WEBHOOK_SECRET_${step.webhook.secret.toUpperCase()}` : 'BATON_WEBHOOK_SECRET';
      return [
        `${path.relative(process.cwd(), sequence.file)}:${step.line} steps.${step.id}.webhook: ${variable} is not set; webhook steps are signed with it (whsec_ + base64)`,
      ];
    }),
  );
}

export class ContentError extends Error {
  constructor(readonly problems: string[]) {
    super(`Templates and sequences have problems:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ContentError';
  }
}

/** Stops accepting connections, lets in-flight requests finish, then cuts what is left. */
async function closeHttpServer(server: http.Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(timer);
}
