import type { Selectable } from 'kysely';
import type { ConsentRecord, LeadsTable } from '../platform/db/schema.js';

/** A lead as the API shows it. */
export interface Lead {
  id: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  title: string | null;
  phone: string | null;
  timezone: string | null;
  country: string | null;
  source: string | null;
  traits: Record<string, unknown>;
  tags: string[];
  consent: ConsentRecord | null;
  unsubscribedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Fields a client may set. Absent means "leave as is"; null means "clear". */
export interface LeadFields {
  firstName?: string | null;
  lastName?: string | null;
  company?: string | null;
  title?: string | null;
  phone?: string | null;
  timezone?: string | null;
  country?: string | null;
  source?: string | null;
  traits?: Record<string, unknown>;
  tags?: string[];
  consent?: ConsentRecord | null;
  /** Only `true` is accepted: recording an opt-out is always allowed, undoing one is not. */
  unsubscribed?: true;
}

export interface LeadInput extends LeadFields {
  email: string;
}

export type LeadRow = Selectable<LeadsTable>;

export function toLead(row: LeadRow): Lead {
  return {
    id: row.id,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    company: row.company,
    title: row.title,
    phone: row.phone,
    timezone: row.timezone,
    country: row.country,
    source: row.source,
    traits: row.traits,
    tags: row.tags,
    consent: row.consent,
    unsubscribedAt: row.unsubscribed_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
