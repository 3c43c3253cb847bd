import { chooseRep } from '../handoff/assignment.js';
import type { SalesTeam } from '../handoff/sales-team.js';
import type { Lead } from '../leads/lead.js';
import type { LifecycleStage } from '../platform/db/schema.js';
import { findIntent } from '../scoring/intent.js';
import { handoffCause, stageAfterScore } from '../scoring/lifecycle.js';
import { applyEvent, scoreFromState, type EngagementState, type ScoredEvent } from '../scoring/score.js';
import type { ScoringConfig } from '../scoring/scoring-config.js';
import { scoredLead } from '../scoring/scoring.service.js';
import type { FrequencyCap } from '../sends/frequency-cap.js';
import { nextAllowedSend } from '../sends/frequency-cap.js';
import type { StepEngagement } from '../sequences/conditions.js';
import type { EmailStep, Sequence, Step } from '../sequences/sequence.js';
import { matchesGoal, stepZone } from '../sequences/step-plan.js';
import { leadStanding } from '../enrollments/engine.js';
import { decide, type LeadStanding, type StepFacts } from '../enrollments/step-decider.js';
import { holdoutArmForLead } from '../experiments/assignment.js';
import { assertUnreachable } from '../platform/assert.js';
import type { Persona } from './persona.js';

/*
 * `baton simulate`: one lead through one sequence on a virtual clock, sending nothing. Steps are
 * decided by the engine's own decider (src/enrollments/step-decider.ts: send windows, waits,
 * branches, goals, splits, holdouts): this file gathers its facts and logs what it says. The
 * score comes from the scoring file's pure function after each of the persona's events, and the
 * handoff from the same assignment as the real one. Deterministic: the same files
 * and persona always print the same timeline, so it can gate a change in CI.
 */

export interface SimulationContext {
  sequence: Sequence;
  /** The subject the email step would have, rendered for this lead. */
  subjectOf: (step: Extract<Step, { kind: 'email' }>, lead: Lead) => string;
  /** Whether a template is marketing email (the frequency cap applies) rather than transactional. */
  isMarketing: (template: string) => boolean;
  scoring: ScoringConfig | null;
  team: SalesTeam | null;
  frequencyCap: FrequencyCap | null;
}

export interface TimelineEntry {
  at: string;
  /** Time since the lead entered: "+2d 03:15". */
  offset: string;
  /** Wall-clock time in the lead's time zone: "Wed 09:00". */
  local: string;
  kind: 'enter' | 'email' | 'held' | 'wait' | 'branch' | 'split' | 'goal' | 'update' | 'webhook' | 'lead' | 'score' | 'stage' | 'handoff' | 'end';
  text: string;
}

export interface Simulation {
  entries: TimelineEntry[];
  /** How it ended: completed, converted, handed off, or still running at the horizon. */
  outcome: string;
}

interface PendingEvent {
  at: Date;
  type: string;
  properties: Record<string, unknown>;
  label: string;
  /** The email step an open or click belongs to. */
  step?: string;
  order: number;
}

/** No real sequence takes this many steps without a wait; a guard against a bug looping forever. */
const MAX_ITERATIONS = 100_000;

export function simulate(persona: Persona, context: SimulationContext): Simulation {
  const { sequence } = context;
  const start = persona.start;
  const horizon = new Date(start.getTime() + persona.untilMs);
  const lead = toLead(persona);
  const zone = () => stepZone(sequence, lead.timezone);
  const entries: TimelineEntry[] = [];
  // A later moment as the reader wants it: how far in, and the lead's wall clock.
  const when = (at: Date) => `${offset(start, at)} (${localTime(at, zone())})`;
  const log = (at: Date, kind: TimelineEntry['kind'], text: string) =>
    entries.push({ at: at.toISOString(), offset: offset(start, at), local: localTime(at, zone()), kind, text });

  const pending: PendingEvent[] = [];
  let order = 0;
  const addEvent = (event: Omit<PendingEvent, 'order'>) => {
    pending.push({ ...event, order: order++ });
    pending.sort((a, b) => a.at.getTime() - b.at.getTime() || a.order - b.order);
  };
  for (const action of persona.behaviour) {
    if (action.kind === 'event')
      addEvent({
        at: new Date(start.getTime() + action.afterMs),
        type: action.type,
        properties: action.properties,
        label: `${action.type}${Object.keys(action.properties).length > 0 ? ` ${JSON.stringify(action.properties)}` : ''}`,
      });
  }

  const happened: Array<ScoredEvent & { at: Date }> = [];
  const engagement: Record<string, StepEngagement> = {};
  const sends: Date[] = [];
  let scoreState: EngagementState = {};
  let stage: LifecycleStage = 'subscriber';
  let lastScore: number | null = null;

  let step: Step | undefined = sequence.steps[0];
  let stepEnteredAt = start;
  let nextRun: Date | null = start;
  let waitingLogged = false;
  let outcome = '';
  log(start, 'enter', `${lead.email} enters ${sequence.id}@${sequence.version} at step ${step?.id ?? '(none)'}`);

  const finish = (at: Date, text: string) => {
    log(at, 'end', text);
    outcome = text;
    nextRun = null;
    step = undefined;
  };
  const advanceTo = (now: Date, next: string | null) => {
    if (!next) return finish(now, 'completed: reached the end');
    step = sequence.steps.find((candidate) => candidate.id === next);
    stepEnteredAt = now;
    nextRun = now;
    waitingLogged = false;
  };

  const onEvent = (event: PendingEvent) => {
    const now = event.at;
    log(now, 'lead', event.label);
    const scored = { id: `persona-${event.order}`, type: event.type, occurredAt: now, properties: { ...event.properties, machine: false } };
    happened.push({ ...scored, at: now });
    if (event.step) {
      const entry = engagement[event.step];
      if (entry && event.type === 'email_opened') entry.humanOpens.push(now);
      if (entry && event.type === 'email_clicked') entry.humanClicks.push(now);
    }
    // As in the engine, a goal is reached when its event is recorded, before any handoff it causes.
    const goal = step
      ? [...sequence.goals, ...(step.kind === 'goal' && now.getTime() >= stepEnteredAt.getTime() ? [step.goal] : [])].find((candidate) =>
          matchesGoal(candidate, scored),
        )
      : undefined;
    if (goal) finish(now, `converted: goal ${goal.event}`);
    if (!context.scoring) return;
    scoreState = applyEvent(scoreState, scored, context.scoring.rules);
    const score = scoreFromState(scoredLead(lead), scoreState, context.scoring.rules, now);
    if (score.total !== lastScore) log(now, 'score', `score ${score.total} (engagement ${score.engagement}, fit ${score.fit}, grade ${score.grade})`);
    lastScore = score.total;
    const intent = findIntent([scored], context.scoring.intent, score.grade, now, null);
    const cause = context.team ? handoffCause(stage, score, context.scoring.lifecycle, intent, false) : null;
    const next = cause ? 'mql' : stageAfterScore(stage, score, context.scoring.lifecycle);
    if (next === stage) return;
    stage = next;
    log(now, 'stage', `stage ${next}${cause?.kind === 'intent' ? ` (asked for sales: ${cause.intent.label})` : ''}`);
    if (cause) handOver(now);
  };

  /** The handoff: the same rep assignment as the real one; the lead leaves the sequence. */
  const handOver = (now: Date, atStep?: string) => {
    if (!context.team) return;
    if (atStep) {
      stage = 'mql';
      log(now, 'stage', `stage mql (${atStep})`);
    }
    const assignment = chooseRep({ team: context.team, lead: { country: lead.country, traits: lead.traits }, now, openCounts: {}, lastAssigned: {} });
    const rep = context.team.reps.find((candidate) => candidate.id === assignment.repId);
    log(
      now,
      'handoff',
      `handed to ${rep?.name ?? assignment.repId} <${rep?.email ?? '?'}> (${assignment.reason})${step ? '; the lead leaves the sequence' : ''}`,
    );
    outcome = outcome ? `${outcome}; handed off to ${assignment.repId}` : `handed off to ${assignment.repId}`;
    nextRun = null;
    step = undefined;
  };

  const split: { forced: Record<string, string>; taken: Record<string, string> } = { forced: persona.arms, taken: {} };
  const heldOut = persona.holdout ?? (sequence.holdout > 0 && holdoutArmForLead(lead.email, sequence.id, sequence.holdout) === 'holdout');
  if (heldOut) log(start, 'held', `in the holdout group (${Math.round(sequence.holdout * 100)}%): no email of ${sequence.id} is sent`);

  const simulatedStanding = (): LeadStanding => {
    const standing = leadStanding(lead, null, engagement);
    return { ...standing, id: lead.email, stage: context.scoring ? stage : null, conditions: { ...standing.conditions, score: lastScore } };
  };
  const factsAt = (now: Date, current: Step): StepFacts => ({
    // A dry run shows what the steps would do: a paused file is simulated as if active.
    now,
    sequence: { ...sequence, status: 'active' },
    stepId: current.id,
    step: current,
    enteredAt: start,
    stepEnteredAt,
    lead: simulatedStanding(),
    // The engine notices a sequence goal when a step runs: so does the simulation.
    goalReached:
      sequence.goals.find((candidate) => happened.some((event) => event.at.getTime() >= start.getTime() && matchesGoal(candidate, event)))?.event ?? null,
    stepGoalReached: current.kind === 'goal' && happened.some((event) => event.at.getTime() >= stepEnteredAt.getTime() && matchesGoal(current.goal, event)),
    heldOut,
    // The lead's email stands for its id in the arm's hash: personas differ, runs agree.
    split: { stored: split.taken[current.id] ?? null, winner: null, forced: split.forced[current.id] ?? null },
  });

  const runStep = (now: Date, current: Step) => {
    const decision = decide(factsAt(now, current));
    switch (decision.kind) {
      case 'exit':
      case 'convert':
        return finish(now, `${decision.kind === 'exit' ? 'exited' : 'converted'}: ${decision.reason}`);
      case 'park':
      case 'end':
        return finish(now, `completed: ${decision.reason}`);
      case 'wait': {
        nextRun = decision.until;
        if (decision.because === 'send_window') return log(now, 'held', `${current.id}: outside the send window until ${when(decision.until)}`);
        if (waitingLogged) return;
        waitingLogged = true;
        if (current.kind === 'goal') return log(now, 'goal', `${current.id}: waits up to ${current.goal.within} for ${current.goal.event}`);
        return log(now, 'wait', `${current.id}: until ${when(decision.until)}`);
      }
      case 'advance':
        if (decision.because === 'branch')
          log(now, 'branch', `${current.id} → ${decision.to ?? '(end)'}${current.kind === 'branch' && decision.to === current.else ? ' (else)' : ''}`);
        if (decision.because === 'goal_timed_out' && current.kind === 'goal')
          log(now, 'goal', `${current.id}: ${current.goal.event} did not happen within ${current.goal.within}`);
        if (decision.because === 'held_out' && current.kind === 'email')
          log(now, 'held', `${current.id}: held out (holdout group), not sent (${current.email.template})`);
        return advanceTo(now, decision.to);
      case 'send': {
        // The frequency cap is the send gate's (the engine checks it under the lead's lock).
        if (context.frequencyCap && context.isMarketing(decision.step.email.template)) {
          const allowed = nextAllowedSend(context.frequencyCap, sends, now);
          if (allowed) {
            log(now, 'held', `${current.id}: frequency cap until ${when(allowed)}`);
            nextRun = allowed;
            return;
          }
        }
        sendEmail(now, decision.step);
        return advanceTo(now, decision.then);
      }
      case 'updateLead': {
        const set = current.kind === 'update_lead' ? (current.update_lead.set ?? {}) : {};
        const added = decision.tags.filter((tag) => !lead.tags.includes(tag));
        const removed = lead.tags.filter((tag) => !decision.tags.includes(tag));
        lead.tags = decision.tags;
        log(
          now,
          'update',
          `${current.id}: ${[...Object.entries(set).map(([field, value]) => `${field} = ${String(value)}`), ...added.map((tag) => `+${tag}`), ...removed.map((tag) => `-${tag}`)].join(', ')}`,
        );
        return advanceTo(now, decision.then);
      }
      case 'callWebhook':
        log(now, 'webhook', `${current.id}: would POST to ${decision.url}`);
        return advanceTo(now, decision.then);
      case 'handOff': {
        const reason = decision.reason ? ` (${decision.reason})` : '';
        if (!context.team) {
          log(now, 'handoff', `${current.id}: would hand the lead to sales${reason}, but there is no sales team file`);
          return advanceTo(now, decision.then);
        }
        return handOver(now, `handoff step ${current.id}${reason}`);
      }
      case 'split': {
        split.taken[current.id] = decision.arm;
        const arm = current.kind === 'split' ? current.split.arms.find((candidate) => candidate.id === decision.arm) : undefined;
        const total = current.kind === 'split' ? current.split.arms.reduce((sum, candidate) => sum + candidate.weight, 0) : 0;
        const share = arm && total > 0 ? ` ${Math.round((arm.weight / total) * 100)}%` : '';
        log(now, 'split', `${current.id} → arm ${decision.arm}${share}${decision.source === 'forced' ? ' (forced by the persona)' : ''} → ${decision.to}`);
        return advanceTo(now, decision.to);
      }
      default:
        return assertUnreachable(decision);
    }
  };

  const sendEmail = (now: Date, current: EmailStep) => {
    log(now, 'email', `${current.id}: "${context.subjectOf(current, lead)}" (${current.email.template})`);
    sends.push(now);
    engagement[current.id] = { sentAt: now, humanOpens: [], humanClicks: [] };
    for (const action of persona.behaviour) {
      if (action.kind !== 'email' || action.step !== current.id) continue;
      if (action.openAfterMs !== null)
        addEvent({
          at: new Date(now.getTime() + action.openAfterMs),
          type: 'email_opened',
          properties: { sendId: current.id },
          label: `opens ${current.id}`,
          step: current.id,
        });
      if (action.clickAfterMs !== null)
        addEvent({
          at: new Date(now.getTime() + action.clickAfterMs),
          type: 'email_clicked',
          properties: { sendId: current.id, ...(action.url ? { url: action.url } : {}) },
          label: `clicks ${current.id}${action.url ? ` (${action.url})` : ''}`,
          step: current.id,
        });
    }
  };

  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    const event = pending[0];
    const runAt: Date | null = nextRun;
    if (!event && !runAt) break;
    // The persona acts first when both fall at the same moment.
    const eventFirst = event !== undefined && (runAt === null || event.at.getTime() <= runAt.getTime());
    const at = eventFirst ? event.at : (runAt ?? horizon);
    if (at.getTime() > horizon.getTime()) {
      outcome ||= step ? `still at step ${step.id} after ${persona.untilMs / 86_400_000}d` : outcome;
      break;
    }
    if (eventFirst) {
      pending.shift();
      onEvent(event);
    } else if (step) {
      nextRun = null;
      runStep(at, step);
    }
  }
  return { entries, outcome: outcome || (step ? `still at step ${step.id}` : 'ended') };
}

export function formatTimeline(simulation: Simulation): string {
  const lines = simulation.entries.map((entry) => `${entry.offset.padEnd(10)} ${entry.local.padEnd(10)} ${entry.kind.padEnd(8)} ${entry.text}`);
  return [...lines, `outcome: ${simulation.outcome}`].join('\n');
}

function toLead(persona: Persona): Lead {
  const input = persona.lead;
  const at = persona.start.toISOString();
  return {
    id: 'simulated',
    email: input.email,
    firstName: input.firstName ?? null,
    lastName: input.lastName ?? null,
    company: input.company ?? null,
    title: input.title ?? null,
    phone: input.phone ?? null,
    timezone: input.timezone ?? null,
    country: input.country ?? null,
    source: input.source ?? null,
    traits: input.traits ?? {},
    tags: [...(input.tags ?? [])],
    consent: null,
    unsubscribedAt: null,
    createdAt: at,
    updatedAt: at,
  };
}

function offset(start: Date, at: Date): string {
  const minutes = Math.round((at.getTime() - start.getTime()) / 60_000);
  const days = Math.floor(minutes / 1440);
  const rest = minutes - days * 1440;
  return `+${days}d ${String(Math.floor(rest / 60)).padStart(2, '0')}:${String(rest % 60).padStart(2, '0')}`;
}

function localTime(at: Date, zone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const part = (type: string) => parts.find((candidate) => candidate.type === type)?.value ?? '';
  return `${part('weekday')} ${part('hour')}:${part('minute')}`;
}
