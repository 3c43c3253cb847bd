import type { Kysely } from 'kysely';
import type { Lead } from '../leads/lead.js';
import type { Database } from '../platform/db/schema.js';
import { findSendingStates } from './consent.repository.js';
import { marketingBlock, type MarketingBlock } from './consent-policy.js';

/*
 * The send path's one question to src/consent: which of these marketing emails must not go, and
 * why. One query for the whole batch; the decision itself is the pure `marketingBlock`.
 */

export interface MarketingCandidate<K> {
  key: K;
  lead: Lead;
  /** The topic the sending sequence declares, or null. */
  topic: string | null;
}

export async function findMarketingBlocks<K>(db: Kysely<Database>, candidates: Array<MarketingCandidate<K>>, now: Date): Promise<Map<K, MarketingBlock>> {
  const blocks = new Map<K, MarketingBlock>();
  if (candidates.length === 0) return blocks;
  const states = await findSendingStates(
    db,
    candidates.map((candidate) => candidate.lead.id),
  );
  for (const { key, lead, topic } of candidates) {
    const state = states.get(lead.id);
    const block = marketingBlock(
      { consent: lead.consent, awaitingOptIn: state?.awaitingOptIn ?? false, pausedUntil: state?.pausedUntil ?? null, leftTopics: state?.leftTopics ?? [] },
      topic,
      now,
    );
    if (block) blocks.set(key, block);
  }
  return blocks;
}
