import type { ConsentRecord } from '../platform/db/schema.js';

/*
 * Whether a lead may receive one marketing email now, and if not, why. Pure: the caller reads the
 * lead's consent, double opt-in state and preferences, and passes `now`. Rep notifications and
 * transactional templates never come here: they are not marketing.
 */

export interface ConsentState {
  consent: ConsentRecord | null;
  /** The lead asked for double opt-in confirmation and has not confirmed any request yet. */
  awaitingOptIn: boolean;
  pausedUntil: Date | null;
  leftTopics: readonly string[];
}

export type MarketingBlock =
  | { kind: 'consent_denied' }
  | { kind: 'consent_withdrawn' }
  | { kind: 'opt_in_unconfirmed' }
  | { kind: 'paused'; until: Date }
  | { kind: 'topic_left'; topic: string };

export type MarketingBlockKind = MarketingBlock['kind'];

/** Null: the email may go. `topic`: the topic of the sequence sending it, if it declares one. */
export function marketingBlock(state: ConsentState, topic: string | null, now: Date): MarketingBlock | null {
  if (state.consent?.status === 'withdrawn') return { kind: 'consent_withdrawn' };
  if (state.consent?.status === 'denied') return { kind: 'consent_denied' };
  // A consent granted otherwise (an import, the API) is not taken back by a pending request.
  if (state.awaitingOptIn && state.consent?.status !== 'granted') return { kind: 'opt_in_unconfirmed' };
  if (state.pausedUntil && state.pausedUntil.getTime() > now.getTime()) return { kind: 'paused', until: state.pausedUntil };
  if (topic !== null && state.leftTopics.includes(topic)) return { kind: 'topic_left', topic };
  return null;
}

/** What the send ledger records as the outcome of a skipped email: a sentence a person reads. */
export function describeBlock(block: MarketingBlock): string {
  switch (block.kind) {
    case 'consent_denied':
      return 'consent denied';
    case 'consent_withdrawn':
      return 'consent withdrawn';
    case 'opt_in_unconfirmed':
      return 'double opt-in not confirmed';
    case 'paused':
      return `email paused until ${block.until.toISOString()}`;
    case 'topic_left':
      return `left topic ${block.topic}`;
    default:
      return assertUnreachable(block);
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unexpected marketing block ${JSON.stringify(value)}`);
}
