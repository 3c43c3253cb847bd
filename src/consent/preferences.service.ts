import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import { findPreferences, leaveTopic, pauseEmail, type StoredPreferences } from './consent.repository.js';

/*
 * The preference centre's writes (the signed page at /u/:token): leave a topic, pause all
 * marketing email. Both are read at send time (consent-gate.ts). Unsubscribing from everything
 * stays the leads' opt-out.
 */

/** The pauses the page offers, in days. */
export const PAUSE_DAYS = [30, 90] as const;
export type PauseDays = (typeof PAUSE_DAYS)[number];

export interface PreferencesService {
  read(leadId: string): Promise<StoredPreferences>;
  /** False when the lead is gone. */
  pause(leadId: string, days: PauseDays, now: Date): Promise<boolean>;
  leaveTopic(leadId: string, topic: string): Promise<boolean>;
}

export function createPreferencesService(db: Kysely<Database>): PreferencesService {
  return {
    read: (leadId) => findPreferences(db, leadId),
    pause: (leadId, days, now) => pauseEmail(db, leadId, new Date(now.getTime() + days * 24 * 60 * 60_000)),
    leaveTopic: (leadId, topic) => leaveTopic(db, leadId, topic),
  };
}
