import type { ColumnType, Generated } from 'kysely';

/* Kysely's view of the tables of migrations/0020_forms_and_consent.sql (listed in Database). */

type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;

export interface OptInRequestsTable {
  id: Generated<string>;
  lead_id: string;
  form_id: string;
  wording_version: string;
  wording: string;
  requested_at: ColumnType<Date, Date | undefined, never>;
  requested_ip: Nullable<string>;
  requested_user_agent: Nullable<string>;
  confirmed_at: Nullable<Date>;
  confirmed_ip: Nullable<string>;
  confirmed_user_agent: Nullable<string>;
  holds_back_email: ColumnType<boolean, boolean | undefined, boolean>;
}

export interface LeadPreferencesTable {
  lead_id: string;
  paused_until: Nullable<Date>;
  left_topics: ColumnType<string[], string[] | undefined, string[]>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
