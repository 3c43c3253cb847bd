import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../platform/logger.js';
import type { FeedbackSource } from '../delivery-feedback.js';
import type { EspWebhookConfig } from '../feedback-config.js';
import { findFeedbackSend, findSendIdByMessageId } from '../feedback.repository.js';
import { recordDeliveryFeedback, type FeedbackRecorderDeps } from '../record-feedback.js';
import type { EspEvent, EspProvider, EspRequest, EspVerification } from './esp-event.js';
import { anyReceiptSeen, insertReceipts } from './esp-receipts.repository.js';
import { verifyMailgun } from './mailgun.js';
import { verifyPostmark } from './postmark.js';
import { sendgridPublicKey, verifySendgrid } from './sendgrid.js';
import { fetchedCertificates, verifySesSns, type CertificateSource } from './ses-sns.js';

/*
 * ESP webhooks: each call is verified the way its provider documents, refused when unsigned,
 * forged, too old or already seen, and only then turned into delivery feedback through the one
 * recorder. An event is recorded only for a send of Baton's whose address is the event's.
 */

/** Timestamped providers: a call older than this is a replay. SNS retries for up to an hour. */
const MAX_AGE_MS: Record<EspProvider, number> = { ses: 60 * 60_000, postmark: 0, sendgrid: 10 * 60_000, mailgun: 10 * 60_000 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type EspWebhookOutcome = { kind: 'refused'; reason: string } | { kind: 'accepted'; recorded: number; ignored: number };

export interface EspWebhooks {
  /** The providers configured; a call for another gets 404. */
  enabled(provider: string): provider is EspProvider;
  receive(provider: EspProvider, request: EspRequest, now: Date): Promise<EspWebhookOutcome>;
}

export async function createEspWebhooks(
  deps: FeedbackRecorderDeps & { config: EspWebhookConfig; logger?: Logger; certificates?: CertificateSource },
): Promise<EspWebhooks> {
  const { config } = deps;
  const certificateFile = config.ses?.certificateFile;
  const certificates: CertificateSource =
    deps.certificates ??
    (certificateFile
      ? (
          (pem) => () =>
            pem
        )(Promise.resolve(await readFile(certificateFile, 'utf8')))
      : fetchedCertificates());
  let sendgridKey: KeyObject | null = null;
  try {
    sendgridKey = config.sendgridPublicKey ? sendgridPublicKey(config.sendgridPublicKey) : null;
  } catch {
    throw new Error('BATON_SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key: paste the verification key SendGrid shows for the signed event webhook (base64)');
  }

  async function verifyCall(provider: EspProvider, request: EspRequest, now: Date): Promise<EspVerification> {
    switch (provider) {
      case 'ses':
        return config.ses
          ? verifySesSns(request, { certificates, topicArns: config.ses.topicArns, now, maxAgeMs: MAX_AGE_MS.ses })
          : { kind: 'refused', reason: 'not configured' };
      case 'postmark':
        return config.postmarkCredentials ? verifyPostmark(request, config.postmarkCredentials) : { kind: 'refused', reason: 'not configured' };
      case 'sendgrid':
        return sendgridKey ? verifySendgrid(request, sendgridKey, now, MAX_AGE_MS.sendgrid) : { kind: 'refused', reason: 'not configured' };
      case 'mailgun':
        return config.mailgunSigningKey
          ? verifyMailgun(request, config.mailgunSigningKey, now, MAX_AGE_MS.mailgun)
          : { kind: 'refused', reason: 'not configured' };
    }
  }

  async function recordEvent(provider: EspProvider, event: EspEvent, now: Date): Promise<boolean> {
    const sendId =
      event.sendId && UUID.test(event.sendId) ? event.sendId : event.messageId ? await findSendIdByMessageId(deps.db, bracketed(event.messageId)) : null;
    const send = sendId ? await findFeedbackSend(deps.db, sendId) : null;
    if (!send) return false;
    // The provider vouches for the event, not for the id an email carried: the address must match.
    if (event.recipient && event.recipient.trim().toLowerCase() !== send.email.toLowerCase()) return false;
    const outcome = await recordDeliveryFeedback(
      deps,
      { sendId: send.sendId, kind: event.kind, status: event.status, diagnostic: event.diagnostic, source: provider satisfies FeedbackSource },
      now,
    );
    return outcome.kind !== 'unknown_send';
  }

  return {
    enabled: (provider): provider is EspProvider =>
      (provider === 'ses' && config.ses !== null) ||
      (provider === 'postmark' && config.postmarkCredentials !== null) ||
      (provider === 'sendgrid' && sendgridKey !== null) ||
      (provider === 'mailgun' && config.mailgunSigningKey !== null),

    async receive(provider, request, now) {
      const verification = await verifyCall(provider, request, now);
      if (verification.kind === 'refused') {
        deps.logger?.warn({ provider, reason: verification.reason }, 'ESP webhook refused');
        return verification;
      }
      if (await anyReceiptSeen(deps.db, provider, verification.receiptIds)) {
        deps.logger?.warn({ provider }, 'ESP webhook refused: replayed');
        return { kind: 'refused', reason: 'replayed' };
      }
      let recorded = 0;
      let ignored = 0;
      if (verification.kind === 'verified') {
        for (const event of verification.events) {
          if (await recordEvent(provider, event, now)) recorded += 1;
          else ignored += 1;
        }
        if (ignored > 0) deps.logger?.warn({ provider, ignored }, "ESP webhook events for no send of Baton's (or another address) ignored");
      } else {
        deps.logger?.info({ provider, note: verification.note }, 'ESP webhook with nothing to record');
      }
      await insertReceipts(deps.db, provider, verification.receiptIds);
      return { kind: 'accepted', recorded, ignored };
    },
  };
}

function bracketed(messageId: string): string {
  const bare = messageId.trim().replace(/^<|>$/g, '');
  return `<${bare}>`;
}
