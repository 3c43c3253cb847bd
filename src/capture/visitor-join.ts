import type { Kysely } from 'kysely';
import { lockExistingLeadIds } from '../leads/leads.repository.js';
import type { Database } from '../platform/db/schema.js';
import { lockVisitor, moveVisitorEventsToLead, setVisitorLead } from './visitors.repository.js';

/*
 * Joining a website visitor to a lead (docs/capture.md, "Identity"). Only an explicit identify, a
 * form submit carrying the visitor id or a signed email-click token joins; never an IP address or
 * a fingerprint (Mautic's merge bugs came from weak signals), and two known leads are never merged.
 *
 * - An anonymous visitor joins the lead: its earlier events move to the lead with their own times
 *   (so the timeline reads in time order), and the lead is rescored, since inserting events queues
 *   it for scoring (migration 0006): three pricing views before the form count.
 * - A lead on several devices has one visitor per device; each joins the same lead.
 * - A visitor already joined to another lead (a shared computer) switches: its events from now on
 *   go to the new lead, and those already recorded stay with the lead they were recorded for.
 */

export type JoinOutcome = { kind: 'joined'; moved: number } | { kind: 'already_joined' } | { kind: 'switched'; from: string } | { kind: 'lead_not_found' };

/**
 * One transaction: the lead is share-locked (an erasure waits, or it is gone and nothing is
 * joined), the visitor's row is locked (event batches for it wait, then see the lead).
 */
export async function joinVisitorToLead(db: Kysely<Database>, visitorId: string, leadId: string, now: Date): Promise<JoinOutcome> {
  return db.transaction().execute(async (trx): Promise<JoinOutcome> => {
    if (!(await lockExistingLeadIds(trx, [leadId])).has(leadId)) return { kind: 'lead_not_found' };
    const visitor = await lockVisitor(trx, visitorId, now);
    if (visitor.leadId === leadId) return { kind: 'already_joined' };
    await setVisitorLead(trx, visitorId, leadId, now);
    if (visitor.leadId !== null) return { kind: 'switched', from: visitor.leadId };
    return { kind: 'joined', moved: await moveVisitorEventsToLead(trx, visitorId, leadId) };
  });
}
