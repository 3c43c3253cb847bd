import type { EventsService } from '../events/events.service.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { TokenSigner } from '../platform/signing.js';
import { readUnsubscribeToken } from './unsubscribe-token.js';

export type UnsubscribeOutcome = 'unsubscribed' | 'already_unsubscribed' | 'lead_gone' | 'invalid_token';
export type UnsubscribeSource = 'one_click' | 'page';

export interface SubscriptionsService {
  /** True when the token is one Baton signed (the page can be shown). */
  isValidToken(token: string): boolean;
  unsubscribe(token: string, source: UnsubscribeSource, now: Date): Promise<UnsubscribeOutcome>;
}

/** How many of a lead's emails are handed to SMTP and not answered yet (sends.repository.ts). */
export type InFlightSends = (leadId: string) => Promise<number>;

/** The longest an unsubscribe waits for emails already on their way to the SMTP server. */
const IN_FLIGHT_WAIT_MS = 10_000;
const IN_FLIGHT_POLL_MS = 25;

export function createSubscriptionsService(signer: TokenSigner, leads: LeadsService, events: EventsService, inFlight: InFlightSends): SubscriptionsService {
  /**
   * An email handed to SMTP just before the opt-out committed may not have reached the server
   * yet: the answer waits until it is answered, so that nothing reaches SMTP after the person
   * was told "You are unsubscribed". Every later email is stopped at hand-over (email-delivery.ts).
   */
  async function settle(leadId: string): Promise<void> {
    const deadline = Date.now() + IN_FLIGHT_WAIT_MS;
    while ((await inFlight(leadId)) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, IN_FLIGHT_POLL_MS));
  }

  return {
    isValidToken: (token) => readUnsubscribeToken(signer, token) !== null,

    async unsubscribe(token, source, now) {
      const claim = readUnsubscribeToken(signer, token);
      if (!claim) return 'invalid_token';
      const result = await leads.optOut(claim.leadId);
      // An erased lead is already suppressed for good: the person is as unsubscribed as can be.
      if (result === 'not_found') return 'lead_gone';
      if (result === 'unsubscribed') await events.record([{ leadId: claim.leadId, type: 'unsubscribed', properties: { source, sendId: claim.sendId }, occurredAt: now }]);
      await settle(claim.leadId);
      return result === 'already' ? 'already_unsubscribed' : 'unsubscribed';
    },
  };
}
