import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { EnrollOutcome } from '../enrollments/sequence-runner.js';
import type { Lead } from '../leads/lead.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { Database, HandoffStatus, LifecycleStage } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import { toPage, type Page } from '../platform/pagination.js';
import type { TokenSigner } from '../platform/signing.js';
import type { Score } from '../scoring/score.js';
import type { HandoffCause } from '../scoring/lifecycle.js';
import { accountOwners } from '../accounts/accounts.repository.js';
import { accountAround } from '../accounts/accounts.service.js';
import type { ScoringConfig } from '../scoring/scoring-config.js';
import { eventsForScoring, moveStage, resetEngagement } from '../scoring/scoring.repository.js';
import { scoredLead, type KnownLead, type ScoringService } from '../scoring/scoring.service.js';
import { scoreLead } from '../scoring/score.js';
import { chooseRep, type Assignment, type PreferredRep } from './assignment.js';
import { flagsOf, type ReturningInput } from './briefing-context.js';
import { buildBriefing, type Briefing } from './briefing.js';
import { handoffDelivery, maskUrl } from './handoff-delivery.js';
import type { HandoffNotifier } from './handoff-notifier.js';
import {
  addDealIfMissing,
  assignmentCursors,
  decideHandoff,
  deferSla,
  enrollmentHistory,
  exitActiveEnrollments,
  findHandoff,
  insertHandoff,
  latestHandoffOf,
  listHandoffs,
  lockAssignments,
  markReminded,
  notificationsOf,
  openHandoffCounts,
  pendingAssignedBefore,
  queueNotifications,
  reassignHandoff,
  rejectionsByRule,
  saveAssignmentCursor,
  takeDueNotifications,
  type HandoffRow,
} from './handoff.repository.js';
import type { Rep, SalesTeam } from './sales-team.js';
import type { Deal } from '../reporting/deal-value.js';

/*
 * The handoff: a lead crossing the MQL threshold is assigned to a rep, a briefing is composed and
 * stored, the rep is notified (email, webhooks) and the lead leaves its nurture sequences, all
 * decided in one transaction; the notifications go out after it commits, from an outbox that is
 * retried. The rep then accepts, rejects or converts; an unanswered handoff is reminded, then
 * reassigned.
 */

export type HandoffAction = 'accept' | 'reject' | 'convert';

/** Who decides: an API client, or the rep whose email held the signed link. */
export type Decider = { kind: 'api' } | { kind: 'dashboard' } | { kind: 'rep'; repId: string };

export type DecisionOutcome =
  | { kind: 'done'; handoff: HandoffView }
  | { kind: 'not_found' }
  /** A link from a rep's email after the handoff went to another rep: nothing changed. */
  | { kind: 'not_yours'; handoff: HandoffView }
  /** Already decided otherwise (e.g. reject after convert): nothing changed. */
  | { kind: 'conflict'; handoff: HandoffView };

export interface HandoffView {
  id: string;
  leadId: string;
  status: HandoffStatus;
  rep: { id: string; name: string; email: string } | { id: string };
  assignment: Record<string, unknown>;
  score: Record<string, unknown>;
  rejectReason: string | null;
  decidedBy: string | null;
  createdAt: string;
  assignedAt: string;
  remindedAt: string | null;
  reassignments: number;
  decidedAt: string | null;
  /** The deal's value and ISO 4217 currency, when the convert gave them. */
  deal: Deal | null;
}

export interface HandoffService {
  /** Moves the lead from `from` to MQL and hands it off, for `cause`; false when it had left `from`. */
  handOff(leadId: string, score: Score, from: LifecycleStage, now: Date, cause: HandoffCause, known?: KnownLead): Promise<boolean>;
  /** Sends due notifications; returns how many were attempted. */
  deliverDue(now: Date): Promise<number>;
  /** Reminders and reassignments for handoffs nobody answered. */
  enforceSla(now: Date): Promise<{ reminded: number; reassigned: number }>;
  /** `disqualify` with reject: the lead is `disqualified` (final), not recycled to nurture. */
  decide(
    id: string,
    action: HandoffAction,
    now: Date,
    by: Decider,
    options?: { reason?: string; disqualify?: boolean; deal?: Deal | null },
  ): Promise<DecisionOutcome>;
  get(id: string): Promise<(HandoffView & { briefing: Briefing; notifications: unknown[] }) | null>;
  list(query: { status?: HandoffStatus; rep?: string; leadId?: string; limit: number; after?: { at: Date; id: string } }): Promise<Page<HandoffView>>;
  rejectionsByRule(): Promise<Array<{ rule: string; label: string; rejected: number; reasons: Record<string, number> }>>;
  /** The signed link in `repId`'s email that performs `action` on a handoff; it works for ACTION_LINK_DAYS. */
  actionLink(id: string, action: HandoffAction, repId: string, now: Date): string;
  /** The handoff, action and rep a signed link stands for, and whether it expired; null when the token is not ours. */
  readActionToken(token: string, now: Date): { id: string; action: HandoffAction; repId: string; expired: boolean } | null;
}

export interface HandoffDeps {
  db: Kysely<Database>;
  leads: LeadsService;
  team: SalesTeam;
  scoring: () => ScoringService;
  config: ScoringConfig;
  sequenceName: (id: string) => string;
  enroll: (sequenceId: string, leadId: string, now: Date) => Promise<EnrollOutcome>;
  notifier: HandoffNotifier;
  /** Extra receivers of every handoff (BATON_HANDOFF_WEBHOOKS). */
  webhooks: Array<{ url: string; format: 'standard' | 'slack' }>;
  linkSigner: TokenSigner;
  publicUrl: string;
  logger: Logger;
  /** Called after a handoff commits, so its notifications go out at once rather than at the next tick. */
  onQueued?: () => void;
}

const SEVEN_DAYS_MS = 7 * 24 * 60 * 60_000;
/** Actions read per person of a buying group (their count is exact). */
const BUYER_EVENTS = 3;
// Longer than the SMTP socket timeout (mail-transport.ts): a slow send is never taken twice.
const NOTIFICATION_STALE_MS = 15 * 60_000;
const ACTIONS: ReadonlySet<string> = new Set(['accept', 'reject', 'convert']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** How long the links in a rep's email work: a forwarded or leaked email stops deciding after this. */
export const ACTION_LINK_DAYS = 30;

export function createHandoffService(deps: HandoffDeps): HandoffService {
  const { db, team } = deps;
  const repById = new Map(team.reps.map((rep) => [rep.id, rep]));

  // A link names its rep: after a reassignment, the first rep's links no longer decide anything.
  const actionLink = (id: string, action: HandoffAction, repId: string, now: Date) => {
    const expires = Math.floor(now.getTime() / 1000) + ACTION_LINK_DAYS * 86_400;
    return `${deps.publicUrl}/h/${deps.linkSigner.sign(`${id}:${action}:${repId}:${expires}`)}`;
  };
  const links = (id: string, leadId: string, repId: string, now: Date) => ({
    accept: actionLink(id, 'accept', repId, now),
    reject: actionLink(id, 'reject', repId, now),
    convert: actionLink(id, 'convert', repId, now),
    // The dashboard's lead page (a rep signs in first when needed), not the API: a rep has no key.
    lead: `${deps.publicUrl}/dashboard/leads/${leadId}`,
  });

  /** Everything the briefing needs, read before the transaction (embedded PGlite runs one at a time). */
  async function briefingInputs(lead: Lead, now: Date, knownEvents?: KnownLead['events']) {
    const events = knownEvents ?? (await eventsForScoring(db, lead.id, null));
    const weekAgoAt = new Date(now.getTime() - SEVEN_DAYS_MS);
    // With every event at hand (no reset by a rejection), the score a week ago is the same pure function.
    const weekAgo = knownEvents ? scoreLead(scoredLead(lead), knownEvents, deps.config.rules, weekAgoAt) : await deps.scoring().scoreAt(lead.id, weekAgoAt);
    const history = await enrollmentHistory(db, lead.id);
    const sends = events
      .filter((event) => event.type === 'email_sent')
      .map((event) => ({
        sendId: String(event.properties.sendId ?? ''),
        subject: typeof event.properties.subject === 'string' ? event.properties.subject : null,
        template: String(event.properties.template ?? ''),
        sequenceId: String(event.properties.sequenceId ?? ''),
        stepId: String(event.properties.stepId ?? ''),
        sentAt: event.occurredAt,
      }));
    const enrollments = history.map((row) => ({
      sequenceId: row.sequence_id,
      sequenceName: deps.sequenceName(row.sequence_id),
      status: row.status,
      enrolledAt: row.entered_at,
      endedAt: row.ended_at,
      endReason: row.exit_reason,
    }));
    return { events, sends, enrollments, scoreSevenDaysAgo: weekAgo?.total ?? 0, account: await accountAround(db, lead, now, BUYER_EVENTS) };
  }

  function compose(
    id: string,
    lead: Lead,
    score: Score,
    rep: Rep,
    inputs: Awaited<ReturnType<typeof briefingInputs>>,
    now: Date,
    context: { cause?: HandoffCause; returning?: ReturningInput | null } = {},
  ): Briefing {
    const intent = context.cause?.kind === 'intent' ? context.cause.intent : null;
    return buildBriefing({
      lead,
      score,
      ...inputs,
      ruleLabels: deps.config.labels,
      topics: deps.config.topics,
      rep: { id: rep.id, name: rep.name, email: rep.email },
      links: links(id, lead.id, rep.id, now),
      now,
      handRaised: intent,
      returning: context.returning ?? null,
      handedOver: context.cause?.kind === 'step' ? { sequence: context.cause.sequence, stepId: context.cause.stepId, reason: context.cause.reason } : null,
    });
  }

  /** A disqualified lead raising a hand goes back to the rep who had it, when that rep is still on the team. */
  async function returningOf(leadId: string, from: LifecycleStage): Promise<ReturningInput | null> {
    if (from !== 'disqualified') return null;
    const previous = await latestHandoffOf(db, leadId);
    const rep = previous ? repById.get(previous.rep_id) : undefined;
    if (!previous || !rep) return null;
    return { rep: { id: rep.id, name: rep.name }, disqualifiedAt: previous.decided_at ?? previous.created_at, reason: previous.reject_reason };
  }

  function toView(row: HandoffRow): HandoffView {
    const rep = repById.get(row.rep_id);
    return {
      id: row.id,
      leadId: row.lead_id,
      status: row.status,
      rep: rep ? { id: rep.id, name: rep.name, email: rep.email } : { id: row.rep_id },
      assignment: row.assignment,
      score: row.score,
      rejectReason: row.reject_reason,
      decidedBy: row.decided_by,
      createdAt: row.created_at.toISOString(),
      assignedAt: row.assigned_at.toISOString(),
      remindedAt: row.reminded_at?.toISOString() ?? null,
      reassignments: row.reassignments,
      decidedAt: row.decided_at?.toISOString() ?? null,
      deal: row.deal_value !== null && row.deal_currency !== null ? { value: Number(row.deal_value), currency: row.deal_currency } : null,
    };
  }

  function repOf(assignment: Assignment): Rep {
    const rep = repById.get(assignment.repId);
    if (!rep) throw new Error(`assignment chose ${assignment.repId}, who is not in the sales team file`);
    return rep;
  }

  const { notificationsFor, deliver } = handoffDelivery({ db, notifier: deps.notifier, logger: deps.logger, repById, webhooks: deps.webhooks });

  return {
    async handOff(leadId, score, from, now, cause, known) {
      const lead = known?.lead ?? (await deps.leads.get(leadId));
      if (!lead) return false;
      // An unsubscribed lead is handed off only when it asked for sales itself.
      if (lead.unsubscribedAt && cause.kind !== 'intent') return false;
      const inputs = await briefingInputs(lead, now, known?.events);
      const returning = await returningOf(leadId, from);
      const domain = inputs.account?.domain ?? null;
      const id = randomUUID();
      const created = await db
        .transaction()
        .execute(async (trx) => {
          await lockAssignments(trx);
          if (!(await moveStage(trx, leadId, [from], 'mql', now))) return false;
          // Read under the assignment lock: two leads of one account handed off together get one rep.
          const owners = domain ? await accountOwners(trx, domain, leadId) : [];
          const preferred: PreferredRep[] = [
            ...(returning
              ? [
                  {
                    repId: returning.rep.id,
                    reason: 'previous_rep' as const,
                    detail: `disqualified lead raising a hand again: back to ${returning.rep.id}, who had it before`,
                  },
                ]
              : []),
            ...owners.map((repId) => ({ repId, reason: 'account_owner' as const, detail: `owns an open handoff at the same account (${domain ?? ''})` })),
          ];
          const assignment = chooseRep({
            team,
            lead: { country: lead.country, traits: lead.traits },
            now,
            openCounts: await openHandoffCounts(trx),
            lastAssigned: await assignmentCursors(trx),
            preferred,
          });
          const rep = repOf(assignment);
          // The flag stands only when the lead does go back to its previous rep.
          const briefing = compose(id, lead, score, rep, inputs, now, { cause, returning: assignment.reason === 'previous_rep' ? returning : null });
          // The unique index refuses a second open handoff: roll the stage change back with it.
          if (!(await insertHandoff(trx, { id, leadId, repId: rep.id, assignment, score, briefing, now }))) throw new AlreadyHandedOff();
          if (assignment.poolKey !== null) await saveAssignmentCursor(trx, assignment.poolKey, rep.id);
          await queueNotifications(trx, notificationsFor(rep, id, 'assigned'));
          await exitActiveEnrollments(trx, leadId, 'handed off to sales');
          return true;
        })
        .catch((error: unknown) => {
          if (error instanceof AlreadyHandedOff) return false;
          throw error;
        });
      if (created) {
        deps.logger.info(
          {
            handoffId: id,
            leadId,
            engagement: score.engagement,
            grade: score.grade,
            cause: cause.kind === 'intent' ? `intent ${cause.intent.rule}` : cause.kind === 'step' ? `step ${cause.sequence.id}/${cause.stepId}` : cause.kind,
          },
          'lead handed off to sales',
        );
        deps.onQueued?.();
      }
      return created;
    },

    async deliverDue(now) {
      const due = await takeDueNotifications(db, now, 20, NOTIFICATION_STALE_MS);
      await Promise.all(due.map((note) => deliver(note, now)));
      return due.length;
    },

    async enforceSla(now) {
      const sla = team.sla;
      if (!sla) return { reminded: 0, reassigned: 0 };
      let reminded = 0;
      let reassigned = 0;
      for (const row of await pendingAssignedBefore(db, new Date(now.getTime() - sla.reassignAfterMs), false, 50, now)) {
        const lead = await deps.leads.get(row.lead_id);
        if (!lead) continue;
        // Nobody else can take it (a one-rep team, holidays): look again later, not every second.
        const candidate = chooseRep({
          team,
          lead: { country: lead.country, traits: lead.traits },
          now,
          openCounts: await openHandoffCounts(db),
          lastAssigned: await assignmentCursors(db),
          exclude: [row.rep_id],
        });
        if (candidate.repId === row.rep_id) {
          await deferSla(db, row.id, new Date(now.getTime() + sla.reassignAfterMs));
          continue;
        }
        const inputs = await briefingInputs(lead, now);
        const moved = await db.transaction().execute(async (trx) => {
          await lockAssignments(trx);
          const assignment = chooseRep({
            team,
            lead: { country: lead.country, traits: lead.traits },
            now,
            openCounts: await openHandoffCounts(trx),
            lastAssigned: await assignmentCursors(trx),
            exclude: [row.rep_id],
          });
          const rep = repOf(assignment);
          if (rep.id === row.rep_id) return false;
          const score = row.score as unknown as Score;
          const first = row.briefing as unknown as Briefing;
          const briefing = {
            ...compose(row.id, lead, score, rep, inputs, now),
            handRaised: first.handRaised ?? null,
            salesOnly: first.salesOnly ?? null,
            returning: null,
            handedOver: first.handedOver ?? null,
            flags: flagsOf({ salesOnly: first.salesOnly ?? null, returning: null, handedOver: first.handedOver ?? null }),
          };
          const detail = { ...assignment, reassignedFrom: row.rep_id, reassignedBecause: `no answer within ${Math.round(sla.reassignAfterMs / 60_000)} min` };
          if (!(await reassignHandoff(trx, row.id, { repId: row.rep_id, assignedAt: row.assigned_at }, { repId: rep.id, assignment: detail, briefing }, now)))
            return false;
          if (assignment.poolKey !== null) await saveAssignmentCursor(trx, assignment.poolKey, rep.id);
          await queueNotifications(trx, notificationsFor(rep, row.id, 'assigned'));
          return true;
        });
        if (moved) {
          reassigned++;
          deps.logger.info({ handoffId: row.id, from: row.rep_id }, 'handoff reassigned: the rep did not answer in time');
        }
      }
      for (const row of await pendingAssignedBefore(db, new Date(now.getTime() - sla.remindAfterMs), true, 50, null)) {
        const rep = repById.get(row.rep_id);
        if (!rep) continue;
        const marked = await db.transaction().execute(async (trx) => {
          if (!(await markReminded(trx, row.id, row.assigned_at, now))) return false;
          await queueNotifications(trx, notificationsFor(rep, row.id, 'reminder'));
          return true;
        });
        if (marked) reminded++;
      }
      if (reminded + reassigned > 0) deps.onQueued?.();
      return { reminded, reassigned };
    },

    async decide(id, action, now, by, options = {}) {
      const reason = options.reason;
      const recycled = action === 'reject' && !options.disqualify;
      const row = await findHandoff(db, id);
      if (!row) return { kind: 'not_found' };
      const target: HandoffStatus = action === 'accept' ? 'accepted' : action === 'reject' ? 'rejected' : 'converted';
      // Repeating a decision is harmless (a double click, a retried request): answer with the state.
      // A repeated convert may still bring the deal's value, when the first one had none.
      if (row.status === target && action === 'convert' && options.deal && row.deal_value === null && (by.kind !== 'rep' || by.repId === row.rep_id)) {
        await addDealIfMissing(db, id, options.deal);
        const updated = await findHandoff(db, id);
        return updated ? { kind: 'done', handoff: toView(updated) } : { kind: 'not_found' };
      }
      if (row.status === target) return { kind: 'done', handoff: toView(row) };
      if (by.kind === 'rep' && by.repId !== row.rep_id) return { kind: 'not_yours', handoff: toView(row) };
      const from: HandoffStatus[] = action === 'accept' ? ['pending'] : ['pending', 'accepted'];
      const stage: LifecycleStage = action === 'accept' ? 'sql' : action === 'reject' ? (recycled ? 'recycled' : 'disqualified') : 'customer';
      const decidedBy = by.kind === 'rep' ? `rep:${by.repId}` : by.kind;
      const decided = await db.transaction().execute(async (trx) => {
        // By a rep's link: only while it is still theirs (a reassignment may have just moved it).
        if (
          !(await decideHandoff(
            trx,
            id,
            from,
            target,
            now,
            action === 'reject' ? reason?.trim() || null : null,
            decidedBy,
            by.kind === 'rep' ? by.repId : null,
            action === 'convert' ? (options.deal ?? null) : null,
          ))
        )
          return false;
        await moveStage(trx, row.lead_id, ['mql', 'sql'], stage, now);
        // In the same transaction: a rescore between the two must not see the old engagement
        // with the stage already recycled, or it would hand the lead straight back.
        if (recycled) await resetEngagement(trx, row.lead_id, now);
        return true;
      });
      const current = await findHandoff(db, id);
      if (!current) return { kind: 'not_found' };
      if (!decided) {
        if (current.status === target) return { kind: 'done', handoff: toView(current) };
        return by.kind === 'rep' && current.rep_id !== by.repId && current.status === 'pending'
          ? { kind: 'not_yours', handoff: toView(current) }
          : { kind: 'conflict', handoff: toView(current) };
      }
      deps.logger.info({ handoffId: id, action, stage, rep: row.rep_id, by: decidedBy }, 'handoff decided');
      if (recycled) {
        // Back to nurture: the score without the events before now, then the recycle sequence, if any.
        await deps.scoring().rescore(row.lead_id, now, 'rejected by sales');
        const recycle = deps.config.lifecycle?.recycleSequence;
        if (recycle) {
          const outcome = await deps.enroll(recycle, row.lead_id, now);
          if (outcome.kind !== 'enrolled')
            deps.logger.warn({ leadId: row.lead_id, sequence: recycle, outcome }, 'a rejected lead could not enter the recycle sequence');
        }
      }
      return { kind: 'done', handoff: toView(current) };
    },

    async get(id) {
      const row = await findHandoff(db, id);
      if (!row) return null;
      const notifications = await notificationsOf(db, id);
      return {
        ...toView(row),
        briefing: row.briefing as unknown as Briefing,
        notifications: notifications.map((note) => ({
          id: note.id,
          kind: note.kind,
          channel: note.channel,
          repId: note.rep_id,
          status: note.status,
          attempts: note.attempts,
          lastError: note.last_error,
          // Webhook and Slack URLs are credentials: show where, not the whole URL.
          target: note.channel === 'email' ? note.target : maskUrl(note.target),
          createdAt: note.created_at.toISOString(),
          sentAt: note.sent_at?.toISOString() ?? null,
        })),
      };
    },

    async list(query) {
      const rows = await listHandoffs(db, query);
      return toPage(rows, query.limit, (row) => ({ at: row.created_at, id: row.id }), toView);
    },

    async rejectionsByRule() {
      return (await rejectionsByRule(db)).map((entry) => ({ ...entry, label: deps.config.labels[entry.rule] ?? entry.rule }));
    },

    actionLink,

    readActionToken(token, now) {
      const payload = deps.linkSigner.verify(token);
      const [id, action, repId, expires, ...rest] = payload?.split(':') ?? [];
      if (!id || !action || !repId || !expires || rest.length > 0 || !ACTIONS.has(action) || !/^\d+$/.test(expires)) return null;
      // Signed does not mean well formed (an old secret, a bug elsewhere): a non-UUID id would
      // reach the uuid column and fail there as a 500 (issue 16), so it is "not recognised".
      if (!UUID.test(id)) return null;
      return { id, action: action as HandoffAction, repId, expired: Number(expires) * 1000 < now.getTime() };
    },
  };
}

class AlreadyHandedOff extends Error {}
