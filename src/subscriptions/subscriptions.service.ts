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

export function createSubscriptionsService(signer: TokenSigner, leads: LeadsService, events: EventsService): SubscriptionsService {
  return {
    isValidToken: (token) => readUnsubscribeToken(signer, token) !== null,

    async unsubscribe(token, source, now) {
      const claim = readUnsubscribeToken(signer, token);
      if (!claim) return 'invalid_token';
      const result = await leads.optOut(claim.leadId);
      // An erased lead is already suppressed for good: the person is as unsubscribed as can be.
      if (result === 'not_found') return 'lead_gone';
      if (result === 'already') return 'already_unsubscribed';
      await events.record([{ leadId: claim.leadId, type: 'unsubscribed', properties: { source, sendId: claim.sendId }, occurredAt: now }]);
      return 'unsubscribed';
    },
  };
}
