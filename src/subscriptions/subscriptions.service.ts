import type { EventsService } from '../events/events.service.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { TokenSigner } from '../platform/signing.js';
import type { StoredPreferences } from '../consent/consent.repository.js';
import type { PauseDays, PreferencesService } from '../consent/preferences.service.js';
import { readUnsubscribeToken } from './unsubscribe-token.js';

export type UnsubscribeOutcome = 'unsubscribed' | 'already_unsubscribed' | 'lead_gone' | 'invalid_token';
export type UnsubscribeSource = 'one_click' | 'page';

export interface SubscriptionsService {
  /** True when the token is one Baton signed (the page can be shown). */
  isValidToken(token: string): boolean;
  unsubscribe(token: string, source: UnsubscribeSource, now: Date): Promise<UnsubscribeOutcome>;
  /** What the preference page shows; null for a token Baton did not sign or a lead that is gone. */
  preferences(token: string): Promise<(StoredPreferences & { unsubscribed: boolean }) | null>;
  /** A preference-page choice short of unsubscribing; false when the token or the lead is not valid. */
  changePreference(token: string, change: PreferenceChange, now: Date): Promise<boolean>;
}

export type PreferenceChange = { kind: 'pause'; days: PauseDays } | { kind: 'leave_topic'; topic: string };

/** How many of a lead's emails are handed to SMTP and not answered yet (sends.repository.ts). */
export type InFlightSends = (leadId: string) => Promise<number>;

/** The longest an unsubscribe waits for emails already on their way to the SMTP server. */
const IN_FLIGHT_WAIT_MS = 10_000;
const IN_FLIGHT_POLL_MS = 25;

export function createSubscriptionsService(
  signer: TokenSigner,
  leads: LeadsService,
  events: EventsService,
  inFlight: InFlightSends,
  preferences: PreferencesService,
): SubscriptionsService {
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
      if (result === 'unsubscribed')
        await events.record([{ leadId: claim.leadId, type: 'unsubscribed', properties: { source, sendId: claim.sendId }, occurredAt: now }]);
      await settle(claim.leadId);
      return result === 'already' ? 'already_unsubscribed' : 'unsubscribed';
    },

    async preferences(token) {
      const claim = readUnsubscribeToken(signer, token);
      const lead = claim ? await leads.get(claim.leadId) : null;
      if (!lead) return null;
      return { ...(await preferences.read(lead.id)), unsubscribed: lead.unsubscribedAt !== null };
    },

    async changePreference(token, change, now) {
      const claim = readUnsubscribeToken(signer, token);
      if (!claim) return false;
      const changed =
        change.kind === 'pause' ? await preferences.pause(claim.leadId, change.days, now) : await preferences.leaveTopic(claim.leadId, change.topic);
      if (changed)
        await events.record([{ leadId: claim.leadId, type: 'preferences_changed', occurredAt: now, properties: { ...change, sendId: claim.sendId } }]);
      return changed;
    },
  };
}
