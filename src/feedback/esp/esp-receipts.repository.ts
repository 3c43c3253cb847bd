import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { EspProvider } from './esp-event.js';

type Db = Kysely<Database>;

/** True when any of these ids was processed before (the call is a replay). */
export async function anyReceiptSeen(db: Db, provider: EspProvider, ids: string[]): Promise<boolean> {
  if (ids.length === 0) return false;
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from esp_webhook_receipts where provider = ${provider} and receipt_id = any(${ids.map((id) => id.slice(0, 200))}::text[])`.execute(
    db,
  );
  return (rows[0]?.n ?? 0) > 0;
}

export async function insertReceipts(db: Db, provider: EspProvider, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    insert into esp_webhook_receipts (provider, receipt_id)
    select ${provider}, id from unnest(${[...new Set(ids.map((id) => id.slice(0, 200)))]}::text[]) as id
    on conflict do nothing`.execute(db);
}
