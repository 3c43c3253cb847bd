import type { ConsentRecord } from '../platform/db/schema.js';
import { toLead, type Lead, type LeadFields, type LeadInput, type LeadRow } from './lead.js';

/*
 * How new data combines with a stored lead. Pure, so the rules are tested on their own, and the
 * limits hold for the merged result, not only for each request (three requests of 100 tags must
 * not make a lead with 300).
 */

export const LIMITS = { tags: 100, traitKeys: 200, traitBytes: 16_384 } as const;

/** Every column Baton writes for a lead, after merging: the lead minus what the database sets. */
export type LeadWrite = Omit<Lead, 'id' | 'createdAt' | 'updatedAt' | 'unsubscribedAt'> & { unsubscribedAt: Date | null };

export type MergeResult = { ok: true; write: LeadWrite } | { ok: false; problems: Array<{ field: string; message: string }> };

/** Who is writing: an import is bulk, possibly stale data, so it may not re-grant a withdrawn consent. */
/** `form`: a public form, where anyone can type anyone's address. */
export type MergeMode = 'api' | 'import' | 'form';

const SCALARS = ['firstName', 'lastName', 'company', 'title', 'phone', 'timezone', 'country', 'source'] as const;

/**
 * Upsert semantics (POST /api/leads, import, events by email): a field that is absent or null
 * keeps the stored value; traits merge key by key, a null trait removes the key; tags are added;
 * an opt-out is kept forever.
 */
export function mergeUpsert(existing: LeadRow | undefined, input: LeadInput, mode: MergeMode, now: Date): MergeResult {
  const base = existing ? fromRow(existing) : emptyWrite(input.email);
  const write: LeadWrite = { ...base };
  for (const field of SCALARS) {
    const value = input[field];
    if (value !== undefined && value !== null) write[field] = value;
  }
  if (input.traits) write.traits = mergeTraits(base.traits, input.traits);
  if (input.tags) write.tags = [...base.tags, ...input.tags.filter((tag) => !base.tags.includes(tag))];
  if (input.consent) write.consent = consentAfter(base.consent, input.consent, mode);
  if (input.unsubscribed) write.unsubscribedAt = base.unsubscribedAt ?? now;
  return checkLimits(write);
}

/** PATCH semantics: null clears a field, traits follow JSON merge patch, tags are replaced. */
export function applyPatch(existing: LeadRow, patch: LeadFields & { email?: string }, now: Date): MergeResult {
  const base = fromRow(existing);
  const write: LeadWrite = { ...base };
  if (patch.email !== undefined) write.email = patch.email;
  for (const field of SCALARS) {
    const value = patch[field];
    if (value !== undefined) write[field] = value;
  }
  if (patch.traits !== undefined) write.traits = mergeTraits(base.traits, patch.traits);
  if (patch.tags !== undefined) write.tags = patch.tags;
  if (patch.consent !== undefined) write.consent = patch.consent === null ? null : consentAfter(base.consent, patch.consent, 'api');
  if (patch.unsubscribed) write.unsubscribedAt = base.unsubscribedAt ?? now;
  return checkLimits(write);
}

function mergeTraits(stored: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...stored };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

function consentAfter(stored: ConsentRecord | null, incoming: ConsentRecord, mode: MergeMode): ConsentRecord {
  // A withdrawal or refusal is only overridden by a new, direct act of the person (an API call
  // from the team's own systems, a double opt-in confirmation), never by a bulk import of older
  // data, and never by a public form, where a stranger could type the person's address.
  if ((mode === 'import' || mode === 'form') && stored && (stored.status === 'withdrawn' || stored.status === 'denied') && incoming.status === 'granted')
    return stored;
  return incoming;
}

function checkLimits(write: LeadWrite): MergeResult {
  const problems: Array<{ field: string; message: string }> = [];
  if (write.tags.length > LIMITS.tags)
    problems.push({ field: 'tags', message: `tags would grow to ${write.tags.length}; a lead holds at most ${LIMITS.tags}` });
  if (Object.keys(write.traits).length > LIMITS.traitKeys)
    problems.push({ field: 'traits', message: `traits would grow to ${Object.keys(write.traits).length} keys; a lead holds at most ${LIMITS.traitKeys}` });
  else if (Buffer.byteLength(JSON.stringify(write.traits)) > LIMITS.traitBytes)
    problems.push({ field: 'traits', message: `traits would exceed ${LIMITS.traitBytes} bytes of JSON` });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, write };
}

function emptyWrite(email: string): LeadWrite {
  return {
    email,
    firstName: null,
    lastName: null,
    company: null,
    title: null,
    phone: null,
    timezone: null,
    country: null,
    source: null,
    traits: {},
    tags: [],
    consent: null,
    unsubscribedAt: null,
  };
}

function fromRow(row: LeadRow): LeadWrite {
  const { id: _id, createdAt: _createdAt, updatedAt: _updatedAt, unsubscribedAt: _unsubscribedAt, ...fields } = toLead(row);
  return { ...fields, unsubscribedAt: row.unsubscribed_at };
}
