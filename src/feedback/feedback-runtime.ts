import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import { createTokenSigner } from '../platform/signing.js';
import type { SuppressionService } from '../suppression/suppression.service.js';
import { createFeedbackAddresses, type FeedbackAddresses } from './bounce-address.js';
import type { FeedbackConfig } from './feedback-config.js';
import { createFeedbackInbox } from './feedback-inbox.js';
import { startInboundSmtp, type InboundSmtp } from './inbound-smtp.js';
import { createEspWebhooks, type EspWebhooks } from './esp/esp-webhooks.service.js';
import { createSmtpFeedback, type SmtpFeedback } from './smtp-feedback.js';
import { createDomainGate, type DomainGate } from './domain-gate.js';

/** Signer purpose of VERP and mailto: unsubscribe tokens: they verify as nothing else. */
export const FEEDBACK_TOKEN_PURPOSE = 'feedback-address';

export interface FeedbackRuntime {
  /** Null without BATON_BOUNCE_DOMAIN: the envelope sender stays the From address. */
  addresses: FeedbackAddresses | null;
  inbound: InboundSmtp | null;
  /** Null when no ESP webhook is configured. */
  espWebhooks: EspWebhooks | null;
  /** The send path's hook: hard bounces recorded, retries timed and ended. */
  smtp: SmtpFeedback;
  /** Always on: without BATON_DOMAIN_LIMITS it only slows domains that answer 421 / 4.7.x. */
  domainGate: DomainGate;
  stop(): Promise<void>;
}

export interface FeedbackRuntimeDeps {
  config: FeedbackConfig;
  db: Kysely<Database>;
  suppression: SuppressionService;
  secret: string;
  previousSecrets: string[];
  logger: Logger;
}

/** Problems with the feedback settings, each naming its variable (reported at start with the rest). */
export function feedbackConfigProblems(config: FeedbackConfig): string[] {
  return config.inbound && !config.bounceDomain
    ? ['BATON_INBOUND_SMTP_PORT is set without BATON_BOUNCE_DOMAIN: the listener accepts mail only for the bounce domain']
    : [];
}

export async function startFeedback(deps: FeedbackRuntimeDeps): Promise<FeedbackRuntime> {
  const { config } = deps;
  const addresses = config.bounceDomain
    ? createFeedbackAddresses(createTokenSigner(deps.secret, FEEDBACK_TOKEN_PURPOSE, deps.previousSecrets), config.bounceDomain)
    : null;
  const inbound =
    addresses && config.inbound
      ? await startInboundSmtp({
          inbox: createFeedbackInbox({ db: deps.db, suppression: deps.suppression, addresses, logger: deps.logger, softBounceLimit: config.softBounceLimit }),
          host: config.inbound.host,
          port: config.inbound.port,
          maxBytes: config.inbound.maxBytes,
          logger: deps.logger,
        })
      : null;
  const esp = config.esp;
  const anyEsp = esp.ses !== null || esp.postmarkCredentials !== null || esp.sendgridPublicKey !== null || esp.mailgunSigningKey !== null;
  const espWebhooks = anyEsp
    ? await createEspWebhooks({ db: deps.db, suppression: deps.suppression, softBounceLimit: config.softBounceLimit, config: esp, logger: deps.logger })
    : null;
  const domainGate = createDomainGate(config.domainLimits);
  const smtp = createSmtpFeedback({
    db: deps.db,
    suppression: deps.suppression,
    softBounceLimit: config.softBounceLimit,
    softBounceRetriesMs: config.softBounceRetriesMs,
    domainGate,
    logger: deps.logger,
  });
  return { addresses, inbound, espWebhooks, smtp, domainGate, stop: async () => inbound?.close() };
}
