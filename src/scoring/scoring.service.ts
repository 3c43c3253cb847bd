import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Lead } from '../leads/lead.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { Database, LifecycleStage } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import { fieldsByFileName } from '../sequences/lead-fields.js';
import { findIntent, intentCountsAfter } from './intent.js';
import { handoffCause, stageAfterScore, type HandoffCause } from './lifecycle.js';
import { scoreLead, type Score, type ScoredEvent, type ScoredLead } from './score.js';
import type { ScoringConfig } from './scoring-config.js';
import {
  activateScoring,
  claimDecayPass,
  deferScoreQueue,
  engagedLeadIds,
  ensureLeadScore,
  eventsForScoring,
  findLeadScore,
  moveStage,
  releaseScoreQueue,
  saveScore,
  scoreHistory,
  takeScoreQueue,
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
  /** Lets the database queue events for scoring (and queues every lead when the rules changed); at worker start. */
  activate(): Promise<void>;
  /** Rescores queued leads; returns how many were handled. */
  processQueue(now: Date, limit?: number): Promise<number>;
  rescore(leadId: string, now: Date, cause: string): Promise<{ score: Score; stage: LifecycleStage; latestEventAt: Date | null } | null>;
  /** Rescores every lead with engagement points, so decay shows in stored scores and stages; one worker per `everyMs`. */
  decayAll(now: Date, everyMs: number): Promise<number>;
  /** The score at `now`, recomputed, with its stored history; null for an unknown lead. */
  report(leadId: string, now: Date): Promise<ScoreReport | null>;
  /** The score a lead had at `at` (for a briefing's seven-day rise). */
  scoreAt(leadId: string, at: Date): Promise<Score | null>;
}

/** The lead and all its events, as rescoring just read them: the handoff need not read them again. */
export interface KnownLead {
  lead: Lead;
  events: ScoredEvent[];
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
  onMarketingQualified: ((leadId: string, score: Score, from: LifecycleStage, now: Date, cause: HandoffCause, known?: KnownLead) => Promise<boolean>) | null;
}

/** Leads one worker rescores at once. */
const RESCORE_CONCURRENCY = 4;

/** A queue row taken by a worker that died is taken again after this. */
const STALE_AFTER_MS = 60_000;

export function scoredLead(lead: Lead): ScoredLead {
  return { email: lead.email, fields: fieldsByFileName(lead), traits: lead.traits };
}

export function createScoringService(deps: ScoringDeps): ScoringService {
  const { db, config } = deps;

  async function compute(
    leadId: string,
    at: Date,
  ): Promise<{
    lead: Lead;
    events: ScoredEvent[];
    score: Score;
    stage: LifecycleStage;
    stageChangedAt: Date | null;
    since: Date | null;
    stored: boolean;
  } | null> {
    const lead = await deps.leads.get(leadId);
    if (!lead) return null;
    const stored = await findLeadScore(db, leadId);
    const since = stored?.engagement_since ?? null;
    const events = await eventsForScoring(db, leadId, since);
    return {
      lead,
      events,
      score: scoreLead(scoredLead(lead), events, config.rules, at),
      stage: stored?.stage ?? 'subscriber',
      stageChangedAt: stored?.stage_changed_at ?? null,
      since,
      stored: stored !== undefined,
    };
  }

  async function rescore(leadId: string, now: Date, cause: string) {
    const computed = await compute(leadId, now);
    if (!computed) return null;
    const { lead, score, stage } = computed;
    // A disqualified lead counts only the hands it raised since it was disqualified; an unsubscribed one, since it unsubscribed.
    const intent = findIntent(computed.events, config.intent, score.grade, now, intentCountsAfter(stage, computed.stageChangedAt, lead.unsubscribedAt));
    const handoff: HandoffCause | null = deps.onMarketingQualified ? handoffCause(stage, score, config.lifecycle, intent, lead.unsubscribedAt !== null) : null;
    let next = handoff ? 'mql' : stageAfterScore(stage, score, config.lifecycle);
    // No handoff (no sales team, or a lead that objected to marketing): scored, never an MQL.
    if (next === 'mql' && !handoff) next = stageAfterScore(stage, score, null);
    let final = stage;
    if (next !== stage) {
      if (!computed.stored) await ensureLeadScore(db, leadId);
      const moved =
        handoff && deps.onMarketingQualified
          ? await deps.onMarketingQualified(leadId, score, stage, now, handoff, computed.since ? undefined : { lead, events: computed.events })
          : await moveStage(db, leadId, [stage], next, now);
      final = moved ? next : ((await findLeadScore(db, leadId))?.stage ?? stage);
    }
    await saveScore(db, leadId, score, final, cause, now);
    return { score, stage: final, latestEventAt: computed.events.at(-1)?.occurredAt ?? null };
  }

  return {
    config,
    async activate() {
      const queued = await activateScoring(db, createHash('sha256').update(JSON.stringify(config)).digest('hex'));
      if (queued > 0) deps.logger.info({ leads: queued }, 'scoring rules are new or changed: every lead with events is queued for rescoring');
    },

    async processQueue(now, limit = 100) {
      const rows = await takeScoreQueue(db, limit, STALE_AFTER_MS);
      const handle = async (row: (typeof rows)[number]) => {
        try {
          // The clock after the take: an event recorded just before it is never in the future.
          const at = new Date(Math.max(now.getTime(), Date.now()));
          const result = await rescore(row.lead_id, at, 'event');
          // Events dated ahead (allowed a few minutes) count once their time comes.
          const latest = result?.latestEventAt ?? null;
          if (latest && latest.getTime() > at.getTime()) await deferScoreQueue(db, row, latest, STALE_AFTER_MS);
          else await releaseScoreQueue(db, row);
        } catch (error) {
          // Left taken: retried after STALE_AFTER_MS, never lost.
          deps.logger.error({ err: error, leadId: row.lead_id }, 'rescoring a lead failed; it will be retried');
        }
      };
      // A few leads at once: one lead's queries overlap another's work. Each lead's stage moves by
      // compare-and-set and assignments take a lock, so concurrency changes no outcome.
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(RESCORE_CONCURRENCY, rows.length) }, async () => {
          while (next < rows.length) {
            const row = rows[next++];
            if (row) await handle(row);
          }
        }),
      );
      return rows.length;
    },

    rescore,

    async decayAll(now, everyMs) {
      if (!(await claimDecayPass(db, everyMs))) return 0;
      let after: string | null = null;
      let count = 0;
      for (;;) {
        const ids = await engagedLeadIds(db, after, 500);
        for (const id of ids) {
          try {
            await rescore(id, now, 'decay');
          } catch (error) {
            deps.logger.error({ err: error, leadId: id }, "decaying a lead's score failed; the next pass tries again");
          }
        }
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
  };
}
