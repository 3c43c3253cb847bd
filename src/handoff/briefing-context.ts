import type { ScoredEvent } from '../scoring/score.js';

/*
 * The parts of a briefing about the circumstances of a handoff rather than the lead's own record:
 * why it came now (a raised hand), what the rep must know before calling (sales-only contact, a
 * lead disqualified before), and the account around the lead (the buying group). Pure, like
 * briefing.ts, which calls these with a function that words an event.
 */

/** A raised hand as the scoring worker found it (an intent rule's event). */
export interface HandRaisedInput {
  rule: string;
  /** A noun phrase: "Demo request". */
  label: string;
  eventId: string;
  at: Date;
}

/** A lead disqualified before, raising a hand again: it goes back to this rep. */
export interface ReturningInput {
  rep: { id: string; name: string };
  disqualifiedAt: Date;
  reason: string | null;
}

/** Another person at the lead's account, with their recent actions (newest first). */
export interface AccountPersonInput {
  leadId: string;
  name: string;
  email: string;
  title: string | null;
  /** Actions in the period, of which `events` holds the most recent few. */
  actions: number;
  events: ScoredEvent[];
}

export interface AccountInput {
  domain: string;
  /** Other leads known at the account (engaged or not). */
  otherPeople: number;
  /** Stored engagement points of the other leads: the account's total adds this lead's. */
  otherEngagement: number;
  /** How far back the buying group looks, in days. */
  days: number;
  people: AccountPersonInput[];
}

export interface BriefingHandRaised {
  rule: string;
  label: string;
  at: string;
  when: string;
  summary: string;
}

export interface BriefingSalesOnly {
  unsubscribedAt: string;
  note: string;
}

export interface BriefingReturning {
  previousRep: { id: string; name: string };
  disqualifiedAt: string;
  reason: string | null;
  note: string;
}

export interface BriefingBuyer {
  name: string;
  email: string;
  title: string | null;
  actions: number;
  lastAt: string;
  lastWhen: string;
  /** What they did most recently, worded for a rep, newest first. */
  did: string[];
}

export interface BriefingAccount {
  domain: string;
  /** People known at the account, this lead included. */
  people: number;
  /** Engagement points of everyone at the account, this lead included. */
  engagement: number;
  /** Actions of the buying group (the others) in the last `days` days. */
  groupActions: number;
  days: number;
  buyingGroup: BriefingBuyer[];
}

/** People shown in a buying group, most recently active first. */
export const MAX_BUYERS = 10;
/** Actions worded per person. */
export const MAX_ACTIONS_PER_BUYER = 3;

type Describe = (event: ScoredEvent) => string;
type FormatWhen = (date: Date) => string;

export function handRaisedPart(
  input: HandRaisedInput | null | undefined,
  events: ScoredEvent[],
  describe: Describe,
  formatWhen: FormatWhen,
): BriefingHandRaised | null {
  if (!input) return null;
  const event = events.find((candidate) => candidate.id === input.eventId);
  return { rule: input.rule, label: input.label, at: input.at.toISOString(), when: formatWhen(input.at), summary: event ? describe(event) : input.label };
}

/** An unsubscribed lead who asked for sales: the rep may answer the request, not market to them. */
export function salesOnlyPart(unsubscribedAt: string | null, handRaised: BriefingHandRaised | null): BriefingSalesOnly | null {
  if (!unsubscribedAt || !handRaised) return null;
  return { unsubscribedAt, note: `Unsubscribed from marketing email on ${day(unsubscribedAt)}: contact about the ${lowerFirst(handRaised.label)} only` };
}

export function returningPart(input: ReturningInput | null | undefined): BriefingReturning | null {
  if (!input) return null;
  const why = input.reason ? ` (“${input.reason}”)` : '';
  return {
    previousRep: { ...input.rep },
    disqualifiedAt: input.disqualifiedAt.toISOString(),
    reason: input.reason,
    note: `Previously disqualified on ${day(input.disqualifiedAt.toISOString())}${why}; they raised a hand again and go back to ${input.rep.name}, who had them before`,
  };
}

export function accountPart(
  input: AccountInput | null | undefined,
  leadEngagement: number,
  describe: Describe,
  formatWhen: FormatWhen,
): BriefingAccount | null {
  if (!input) return null;
  const buyers = input.people
    .filter((person) => person.events.length > 0)
    .map((person) => ({ person, newest: newestFirst(person.events) }))
    .sort((a, b) => (b.newest[0]?.occurredAt.getTime() ?? 0) - (a.newest[0]?.occurredAt.getTime() ?? 0) || a.person.email.localeCompare(b.person.email));
  return {
    domain: input.domain,
    people: input.otherPeople + 1,
    engagement: round(input.otherEngagement + leadEngagement),
    groupActions: buyers.reduce((total, { person }) => total + person.actions, 0),
    days: input.days,
    buyingGroup: buyers.slice(0, MAX_BUYERS).map(({ person, newest }) => {
      const last = newest[0]?.occurredAt ?? new Date(0);
      return {
        name: person.name,
        email: person.email,
        title: person.title,
        actions: person.actions,
        lastAt: last.toISOString(),
        lastWhen: formatWhen(last),
        did: newest.slice(0, MAX_ACTIONS_PER_BUYER).map(describe),
      };
    }),
  };
}

/** A sequence's handoff step sent the lead: which one, and the reason its author gave. */
export interface HandedOverInput {
  sequence: { id: string; name: string };
  stepId: string;
  reason: string | null;
}

export interface BriefingHandedOver extends HandedOverInput {
  note: string;
}

export function handedOverPart(input: HandedOverInput | null | undefined): BriefingHandedOver | null {
  if (!input) return null;
  const why = input.reason ? `: ${input.reason}` : '';
  return {
    sequence: { ...input.sequence },
    stepId: input.stepId,
    reason: input.reason,
    note: `Handed over by the sequence “${input.sequence.name}” (step ${input.stepId})${why}`,
  };
}

/** The lines a rep must read before anything else, in the order they matter. */
export function flagsOf(parts: { salesOnly: BriefingSalesOnly | null; returning: BriefingReturning | null; handedOver?: BriefingHandedOver | null }): string[] {
  return [parts.salesOnly?.note, parts.returning?.note, parts.handedOver?.note].filter((note): note is string => typeof note === 'string');
}

/** One line per buyer: "Jane Doe (CTO) <jane@acme.com>: 3 actions, last 2026-11-27 10:00 UTC: Viewed /pricing; …". */
export function buyerLine(buyer: BriefingBuyer): string {
  const who = `${buyer.name}${buyer.title ? ` (${buyer.title})` : ''} <${buyer.email}>`;
  return `${who}: ${buyer.actions} action${buyer.actions === 1 ? '' : 's'}, last ${buyer.lastWhen}: ${buyer.did.join('; ')}`;
}

export function accountLine(account: BriefingAccount): string {
  return `${account.domain}: ${account.people} ${account.people === 1 ? 'person' : 'people'}, engagement ${account.engagement} in all; ${account.buyingGroup.length === 0 ? `nobody else engaged in the last ${account.days} days` : `${account.groupActions} action${account.groupActions === 1 ? '' : 's'} by others in the last ${account.days} days`}`;
}

function newestFirst(events: ScoredEvent[]): ScoredEvent[] {
  return [...events].sort((a, b) => b.occurredAt.getTime() - a.occurredAt.getTime() || b.id.localeCompare(a.id));
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

function lowerFirst(value: string): string {
  return value.charAt(0).toLowerCase() + value.slice(1);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
