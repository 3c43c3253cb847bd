import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';

/* SQL of the consent tables (migrations/0020_forms_and_consent.sql). */

type Db = Kysely<Database>;

export interface StoredPreferences {
  pausedUntil: Date | null;
  leftTopics: string[];
}

export interface SendingState extends StoredPreferences {
  awaitingOptIn: boolean;
}

/** Per lead id: preferences, and whether it has an opt-in request but no confirmed one. One query. */
export async function findSendingStates(db: Db, leadIds: string[]): Promise<Map<string, SendingState>> {
  if (leadIds.length === 0) return new Map();
  const { rows } = await sql<{ lead_id: string; paused_until: Date | null; left_topics: string[] | null; awaiting: boolean }>`
    select ids.lead_id, p.paused_until, p.left_topics,
      (exists (select 1 from opt_in_requests r where r.lead_id = ids.lead_id and r.holds_back_email)
        and not exists (select 1 from opt_in_requests r where r.lead_id = ids.lead_id and r.confirmed_at is not null)) as awaiting
    from unnest(${[...new Set(leadIds)]}::uuid[]) as ids(lead_id)
    left join lead_preferences p on p.lead_id = ids.lead_id`.execute(db);
  return new Map(rows.map((row) => [row.lead_id, { pausedUntil: row.paused_until, leftTopics: row.left_topics ?? [], awaitingOptIn: row.awaiting }]));
}

export async function findPreferences(db: Db, leadId: string): Promise<StoredPreferences> {
  const row = await db.selectFrom('lead_preferences').select(['paused_until', 'left_topics']).where('lead_id', '=', leadId).executeTakeFirst();
  return { pausedUntil: row?.paused_until ?? null, leftTopics: row?.left_topics ?? [] };
}

/** False when the lead is gone. */
export async function pauseEmail(db: Db, leadId: string, until: Date): Promise<boolean> {
  const result = await sql`
    insert into lead_preferences (lead_id, paused_until)
    select id, ${until} from leads where id = ${leadId}
    on conflict (lead_id) do update set paused_until = excluded.paused_until, updated_at = now()`.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

/** False when the lead is gone. Leaving a topic twice keeps it once. */
export async function leaveTopic(db: Db, leadId: string, topic: string): Promise<boolean> {
  const result = await sql`
    insert into lead_preferences (lead_id, left_topics)
    select id, array[${topic}::text] from leads where id = ${leadId}
    on conflict (lead_id) do update set
      left_topics = case when ${topic} = any(lead_preferences.left_topics) then lead_preferences.left_topics else lead_preferences.left_topics || ${topic}::text end,
      updated_at = now()`.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

export interface OptInProof {
  leadId: string;
  formId: string;
  wordingVersion: string;
  wording: string;
  ip: string | null;
  userAgent: string | null;
  /** False for a lead that existed before the form: its email is not held back (see migration 0020). */
  holdsBackEmail: boolean;
}

export async function insertOptInRequest(db: Db, proof: OptInProof): Promise<string> {
  const row = await db
    .insertInto('opt_in_requests')
    .values({
      lead_id: proof.leadId,
      form_id: proof.formId,
      wording_version: proof.wordingVersion,
      wording: proof.wording,
      requested_ip: proof.ip,
      requested_user_agent: proof.userAgent,
      holds_back_email: proof.holdsBackEmail,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface OptInRequestRow {
  id: string;
  leadId: string;
  formId: string;
  wordingVersion: string;
  requestedAt: Date;
  confirmedAt: Date | null;
}

export async function findOptInRequest(db: Db, id: string): Promise<OptInRequestRow | null> {
  const row = await db
    .selectFrom('opt_in_requests')
    .select(['id', 'lead_id', 'form_id', 'wording_version', 'requested_at', 'confirmed_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  return row
    ? {
        id: row.id,
        leadId: row.lead_id,
        formId: row.form_id,
        wordingVersion: row.wording_version,
        requestedAt: row.requested_at,
        confirmedAt: row.confirmed_at,
      }
    : null;
}

/** Records the confirmation once: true the first time, false when it was already confirmed (or is gone). */
export async function confirmOptInRequest(db: Db, id: string, at: Date, ip: string | null, userAgent: string | null): Promise<boolean> {
  const result = await db
    .updateTable('opt_in_requests')
    .set({ confirmed_at: at, confirmed_ip: ip, confirmed_user_agent: userAgent })
    .where('id', '=', id)
    .where('confirmed_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
