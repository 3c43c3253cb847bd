import type { Lead } from '../leads/lead.js';
import { LEAD_FIELDS } from './sequence.schemas.js';

/* Marketer files (sequences, scoring) name lead fields in snake_case; the Lead object uses camelCase. */

export type LeadFieldName = (typeof LEAD_FIELDS)[number];

export const LEAD_KEY_OF_FIELD: Record<LeadFieldName, keyof Lead> = {
  email: 'email', first_name: 'firstName', last_name: 'lastName', company: 'company', title: 'title',
  phone: 'phone', timezone: 'timezone', country: 'country', source: 'source',
};

/** The lead's fields by their file names, text or null: what conditions and fit rules read. */
export function fieldsByFileName(lead: Lead): Record<string, string | null> {
  return Object.fromEntries(LEAD_FIELDS.map((field) => {
    const value = lead[LEAD_KEY_OF_FIELD[field]];
    return [field, typeof value === 'string' ? value : null];
  }));
}
