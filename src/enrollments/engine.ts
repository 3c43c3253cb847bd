import { insertEvents } from '../events/events.repository.js';
import type { Lead } from '../leads/lead.js';
import { scoreStandings } from '../scoring/lead-standing.js';
import { emailChannel, type Channel } from '../sends/channel.js';
import { enqueueEmails } from '../sends/email-queue.repository.js';
import type { StepEngagement } from '../sequences/conditions.js';
import { fieldsByFileName } from '../sequences/lead-fields.js';
import type { Sequence, Step } from '../sequences/sequence.js';
import { engagementOf, eventsHappened } from './enrollments.repository.js';
import type { RunnerDeps, StepJob } from './sequence-runner.js';
import type { LeadStanding } from './step-decider.js';

/*
 * What the engine's parts share: the loaded sequences, the send channel, how a step is scheduled,
 * and the gathering of facts the decider reads (where the lead stands, which goals were reached).
 */

export interface Engine {
  deps: RunnerDeps;
  channel: Channel;
  byId: Map<string, Sequence>;
  stepOf(sequence: Sequence | undefined, stepId: string): Step | undefined;
  /** Email steps go to the email queue, every other step to Agenda. */
  scheduleStep(sequence: Sequence | undefined, job: StepJob, at: Date): Promise<void>;
  /** Where each lead stands, by lead id (erased leads are absent). */
  standingsOf(leads: Lead[]): Promise<Map<string, LeadStanding>>;
  /** For each check, the first sequence goal reached since `since`, by the check's key. */
  goalsReached(checks: Array<{ key: string; leadId: string; sequence: Sequence; since: Date }>): Promise<Map<string, string>>;
  /** Opens and clicks by people on each email step the enrollment has sent. */
  engagementFor(enrollmentId: string): Promise<Record<string, StepEngagement>>;
  /** Notes in the lead's timeline (reserved baton_ event types: a split's arm, an email held out). */
  note(entries: Array<{ leadId: string; type: 'baton_split_assigned' | 'baton_email_held_out'; properties: Record<string, unknown>; at: Date }>): Promise<void>;
}

export function createEngine(deps: RunnerDeps): Engine {
  const byId = new Map(deps.sequences.map((sequence) => [sequence.id, sequence]));
  const stepOf = (sequence: Sequence | undefined, stepId: string) => sequence?.steps.find((candidate) => candidate.id === stepId);
  return {
    deps,
    channel: deps.channel ?? emailChannel(deps.delivery, deps.isMarketing),
    byId,
    stepOf,

    async scheduleStep(sequence, job, at) {
      if (stepOf(sequence, job.stepId)?.kind === 'email') await enqueueEmails(deps.db, [{ enrollmentId: job.enrollmentId, stepId: job.stepId, dueAt: at }]);
      else await deps.queue.schedule(at, job);
    },

    async standingsOf(leads) {
      const scores = await scoreStandings(
        deps.db,
        leads.map((lead) => lead.id),
      );
      return new Map(leads.map((lead) => [lead.id, leadStanding(lead, scores.get(lead.id) ?? null)]));
    },

    async goalsReached(checks) {
      const goals = checks.flatMap((check) => check.sequence.goals.map((goal) => ({ check, goal })));
      const reached = await eventsHappened(
        deps.db,
        goals.map(({ check, goal }) => ({ leadId: check.leadId, type: goal.event, where: goal.where, since: check.since })),
      );
      const found = new Map<string, string>();
      goals.forEach(({ check, goal }, position) => {
        if (reached.has(position) && !found.has(check.key)) found.set(check.key, goal.event);
      });
      return found;
    },

    async engagementFor(enrollmentId) {
      const engagement: Record<string, StepEngagement> = {};
      for (const row of await engagementOf(deps.db, enrollmentId)) {
        const entry = (engagement[row.step_id] ??= { sentAt: row.sent_at, humanOpens: [], humanClicks: [] });
        if (row.type === 'email_opened' && row.occurred_at) entry.humanOpens.push(row.occurred_at);
        if (row.type === 'email_clicked' && row.occurred_at) entry.humanClicks.push(row.occurred_at);
      }
      return engagement;
    },

    async note(entries) {
      await insertEvents(
        deps.db,
        entries.map((entry) => ({ leadId: entry.leadId, type: entry.type, properties: entry.properties, occurredAt: entry.at })),
      );
    },
  };
}

/** What the decider knows of a lead; `score` is its stored total, null while it has none (no scoring). */
export function leadStanding(
  lead: Lead,
  score: { total: number; stage: LeadStanding['stage'] } | null,
  engagement: Record<string, StepEngagement> = {},
): LeadStanding {
  return {
    id: lead.id,
    unsubscribed: lead.unsubscribedAt !== null,
    stage: score?.stage ?? null,
    timezone: lead.timezone,
    tags: lead.tags,
    conditions: { fields: fieldsByFileName(lead), traits: lead.traits, tags: lead.tags, score: score?.total ?? null, engagement },
  };
}
