import type { Kysely } from 'kysely';
import type { Lead } from '../leads/lead.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { Database, LifecycleStage } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import { LEAD_FIELDS } from '../sequences/sequence.schemas.js';
import { stageAfterScore } from './lifecycle.js';
import { scoreLead, type Score, type ScoredLead } from './score.js';
import type { ScoringConfig } from './scoring-config.js';
import {
  engagedLeadIds, eventsForScoring, findLeadScore, moveStage, releaseScoreQueue, resetEngagement, saveScore, scoreHistory, setScoringActive, takeScoreQueue,
} from './scoring.repository.js';

/*
 * Keeps stored scores up to date: every human event queues its lead (a database trigger), a worker
 * recomputes the lead's score from its stored events with the pure score function, and a lead
 * crossing the MQL threshold is handed to sales through `onMarketingQualified`. Because the score is
 * always recomputed rather than adjusted, it is reproducible by construction.
 */

export interface ScoreReport {
  leadId: string;
  stage: LifecycleStage;
  total: number;
  engagement: number;
  fit: number;
  grade: Score['grade'];
  breakdown: Array<Score['breakdown'][number] & { label: string }>;
  /** Events before this no longer count (sales rejected the lead then). */
  engagementSince: string | null;
  scoredAt: string;
  history: Array<{ at: string; total: number; engagement: number; fit: number; grade: string; stage: string; cause: string }>;
}

export interface ScoringService {
  config: ScoringConfig;
  /** Lets the database queue events for scoring; called when a worker starts. */
  activate(): Promise<void>;
  /** Rescores queued leads; returns how many were handled. */
  processQueue(now: Date, limit?: number): Promise<number>;
  rescore(leadId: string, now: Date, cause: string): Promise<{ score: Score; stage: LifecycleStage } | null>;
  /** Rescores every lead with engagement points, so decay shows in stored scores and stages. */
  decayAll(now: Date): Promise<number>;
  /** The score at `now`, recomputed, with its stored history; null for an unknown lead. */
  report(leadId: string, now: Date): Promise<ScoreReport | null>;
  /** The score a lead had at `at` (for a briefing's seven-day rise). */
  scoreAt(leadId: string, at: Date): Promise<Score | null>;
  /** Sales rejected the lead: its engagement starts again from zero. */
  resetEngagement(leadId: string, now: Date): Promise<void>;
}

export interface ScoringDeps {
  db: Kysely<Database>;
  leads: LeadsService;
  config: ScoringConfig;
  logger: Logger;
  /**
   * Moves the lead from `from` to MQL and hands it to sales, in one transaction (so a crash
   * between the two cannot leave an MQL nobody was told about); false when the lead had left
   * `from` meanwhile. Null: scores only, no handoff.
   */
  onMarketingQualified: ((leadId: string, score: Score, from: LifecycleStage, now: Date) => Promise<boolean>) | null;
}

/** A queue row taken by a worker that died is taken again after this. */
const STALE_AFTER_MS = 60_000;

type LeadKey = keyof Lead;
const LEAD_KEY_OF_FIELD: Record<(typeof LEAD_FIELDS)[number], LeadKey> = {
  email: 'email', first_name: 'firstName', last_name: 'lastName', company: 'company', title: 'title',
  phone: 'phone', timezone: 'timezone', country: 'country', source: 'source',
};

export function scoredLead(lead: Lead): ScoredLead {
  const fields = Object.fromEntries(LEAD_FIELDS.map((field) => {
    const value = lead[LEAD_KEY_OF_FIELD[field]];
    return [field, typeof value === 'string' ? value : null];
  }));
  return { email: lead.email, fields, traits: lead.traits };
}

export function createScoringService(deps: ScoringDeps): ScoringService {
  const { db, config } = deps;

  async function compute(leadId: string, at: Date): Promise<{ lead: Lead; score: Score; stage: LifecycleStage; since: Date | null } | null> {
    const lead = await deps.leads.get(leadId);
    if (!lead) return null;
    const stored = await findLeadScore(db, leadId);
    const since = stored?.engagement_since ?? null;
    const events = await eventsForScoring(db, leadId, since);
    return { lead, score: scoreLead(scoredLead(lead), events, config.rules, at), stage: stored?.stage ?? 'subscriber', since };
  }

  async function rescore(leadId: string, now: Date, cause: string) {
    const computed = await compute(leadId, now);
    if (!computed) return null;
    const { score, stage } = computed;
    const next = stageAfterScore(stage, score, config.lifecycle);
    await saveScore(db, leadId, score, next, cause, now);
    if (next === stage || (next === 'mql' && !deps.onMarketingQualified)) return { score, stage };
    const moved = next === 'mql' && deps.onMarketingQualified
      ? await deps.onMarketingQualified(leadId, score, stage, now)
      : await moveStage(db, leadId, [stage], next, now);
    if (!moved) return { score, stage: (await findLeadScore(db, leadId))?.stage ?? stage };
    return { score, stage: next };
  }

  return {
    config,
    activate: () => setScoringActive(db, true),

    async processQueue(now, limit = 100) {
      const rows = await takeScoreQueue(db, limit, STALE_AFTER_MS);
      for (const row of rows) {
        try {
          await rescore(row.lead_id, now, 'event');
          await releaseScoreQueue(db, row);
        } catch (error) {
          // Left taken: retried after STALE_AFTER_MS, never lost.
          deps.logger.error({ err: error, leadId: row.lead_id }, 'rescoring a lead failed; it will be retried');
        }
      }
      return rows.length;
    },

    rescore,

    async decayAll(now) {
      let after: string | null = null;
      let count = 0;
      for (;;) {
        const ids = await engagedLeadIds(db, after, 500);
        for (const id of ids) await rescore(id, now, 'decay');
        count += ids.length;
        if (ids.length < 500) return count;
        after = ids[ids.length - 1] ?? null;
      }
    },

    async report(leadId, now) {
      const computed = await compute(leadId, now);
      if (!computed) return null;
      const { score, stage, since } = computed;
      const history = await scoreHistory(db, leadId, 100);
      return {
        leadId,
        stage,
        total: score.total,
        engagement: score.engagement,
        fit: score.fit,
        grade: score.grade,
        breakdown: score.breakdown.map((entry) => ({ ...entry, label: config.labels[entry.rule] ?? entry.rule })),
        engagementSince: since?.toISOString() ?? null,
        scoredAt: now.toISOString(),
        history: history.map((row) => ({ ...row, at: row.at.toISOString() })),
      };
    },

    async scoreAt(leadId, at) {
      return (await compute(leadId, at))?.score ?? null;
    },

    async resetEngagement(leadId, now) {
      await resetEngagement(db, leadId, now);
      await rescore(leadId, now, 'rejected by sales');
    },
  };
}
