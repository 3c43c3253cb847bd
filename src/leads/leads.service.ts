import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { sql, type Kysely } from 'kysely';
import { preserveErasedCounts } from '../enrollments/sequence-stats.repository.js';
import { removeFromBuyingGroups } from '../handoff/handoff.repository.js';
import type { Database } from '../platform/db/schema.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination.js';
import type { SuppressionService } from '../suppression/suppression.service.js';
import { toLead, type Lead, type LeadFields, type LeadInput, type LeadRow } from './lead.js';
import { EXPORT_COLUMNS, leadToCsvCells } from './lead-csv.js';
import { importLeadsCsv, type ImportReport, type ImportRow, type RowRejection } from './lead-import.js';
import { applyPatch, mergeUpsert, type LeadWrite, type MergeMode } from './lead-merge.js';
import {
  deleteLead,
  findLeadById,
  findLeadsByEmails,
  findLeadsByIds,
  leadExists,
  listLeads,
  lockExistingLeadIds,
  markUnsubscribed,
  updateLead,
  writeLeads,
  writeLeadsCounting,
  type LeadFilter,
} from './leads.repository.js';
import type { LeadListQuery } from './leads.schemas.js';

type Db = Kysely<Database>;
type FieldProblems = Array<{ field: string; message: string }>;

export type UpsertOutcome = { kind: 'created' | 'updated'; lead: Lead } | { kind: 'suppressed' } | { kind: 'invalid'; problems: FieldProblems };
export type UpdateOutcome =
  { kind: 'updated'; lead: Lead } | { kind: 'not_found' } | { kind: 'suppressed' } | { kind: 'email_taken' } | { kind: 'invalid'; problems: FieldProblems };

export interface IdentifiedLeads {
  /** Lower-cased address → lead id, for known addresses and the leads just created for the rest. */
  idByEmail: Map<string, string>;
  suppressed: Set<string>;
}

export interface LeadsService {
  /** `mode` 'form' for public forms: a withdrawn or refused consent is kept (lead-merge.ts). */
  upsert(input: LeadInput, options?: { mode?: MergeMode }): Promise<UpsertOutcome>;
  get(id: string): Promise<Lead | null>;
  /** The leads that exist among `ids`, by id. */
  getMany(ids: string[]): Promise<Map<string, Lead>>;
  exists(id: string): Promise<boolean>;
  list(query: LeadListQuery): Promise<Page<Lead>>;
  update(id: string, patch: LeadFields & { email?: string }): Promise<UpdateOutcome>;
  /** Deletes the lead and its events; keeps only a suppression hash. False when there was no lead. */
  erase(id: string): Promise<boolean>;
  importCsv(input: Readable): Promise<ImportReport>;
  /** Runs the first query before returning, so a failure is still an ordinary error response. */
  openCsvExport(filter: Omit<LeadListQuery, 'limit' | 'cursor'>, options?: { bom?: boolean }): Promise<Readable>;
  /** Inside the caller's transaction: finds or creates (source) a lead per address, refusing suppressed ones. */
  identify(trx: Db, emails: string[], source: string): Promise<IdentifiedLeads>;
  /** Inside the caller's transaction: the ids that exist, locked against erasure until it ends. */
  lockIds(trx: Db, ids: string[]): Promise<Set<string>>;
  /** Records an opt-out; never undone. */
  optOut(id: string): Promise<'unsubscribed' | 'already' | 'not_found'>;
}

const EXPORT_PAGE_SIZE = 1000;

/** pg_notify channel: the id of each lead erased, sent when the erasure commits. */
export const LEAD_ERASED_CHANNEL = 'baton_lead_erased';

export function createLeadsService(db: Db, suppression: SuppressionService, clock: () => Date = () => new Date()): LeadsService {
  const service: LeadsService = {
    async upsert(input, options = {}) {
      return db.transaction().execute(async (trx): Promise<UpsertOutcome> => {
        if ((await suppression.lockAndCheck(trx, [input.email])).size > 0) return { kind: 'suppressed' };
        const [existing] = await findLeadsByEmails(trx, [input.email]);
        const merged = mergeUpsert(existing, input, options.mode ?? 'api', clock());
        if (!merged.ok) return { kind: 'invalid', problems: merged.problems };
        const [written] = await writeLeads(trx, [merged.write]);
        if (!written) throw new Error('lead upsert returned no row');
        return { kind: written.created ? 'created' : 'updated', lead: toLead(written.row) };
      });
    },

    async get(id) {
      const row = await findLeadById(db, id);
      return row ? toLead(row) : null;
    },

    async getMany(ids) {
      return new Map((await findLeadsByIds(db, ids)).map((row) => [row.id, toLead(row)]));
    },

    exists: (id) => leadExists(db, id),

    async list(query) {
      const filter: LeadFilter = { email: query.email, tag: query.tag, q: query.q, limit: query.limit };
      if (query.cursor) filter.after = decodeCursor(query.cursor);
      const rows = await listLeads(db, filter);
      return toPage(rows, query.limit, (row) => ({ at: row.created_at, id: row.id }), toLead);
    },

    async update(id, patch) {
      const current = await findLeadById(db, id);
      if (!current) return { kind: 'not_found' };
      return db.transaction().execute(async (trx): Promise<UpdateOutcome> => {
        await suppression.lockAddresses(trx, patch.email ? [current.email, patch.email] : [current.email]);
        const existing = await findLeadById(trx, id, 'update');
        if (!existing) return { kind: 'not_found' };
        const renamed = patch.email !== undefined && patch.email.toLowerCase() !== existing.email.toLowerCase();
        if (renamed && patch.email) {
          if ((await suppression.suppressedAmong(trx, [patch.email])).size > 0) return { kind: 'suppressed' };
          if ((await findLeadsByEmails(trx, [patch.email])).length > 0) return { kind: 'email_taken' };
        }
        const merged = applyPatch(existing, patch, clock());
        if (!merged.ok) return { kind: 'invalid', problems: merged.problems };
        const row = await updateLead(trx, id, merged.write);
        return row ? { kind: 'updated', lead: toLead(row) } : { kind: 'not_found' };
      });
    },

    async erase(id) {
      const current = await findLeadById(db, id);
      if (!current) return false;
      return db.transaction().execute(async (trx) => {
        await suppression.lockAddresses(trx, [current.email]);
        // Every stage move updates the lead's score row: holding it makes a move in flight finish
        // first, so the erasure trigger of migration 0021 sees (and anonymises) its history row.
        await sql`select 1 from lead_scores where lead_id = ${id} for update`.execute(trx);
        // Sequence statistics keep the counts the lead made, without the lead.
        await preserveErasedCounts(trx, id);
        const row = await deleteLead(trx, id);
        if (!row) return false;
        // Other leads' stored briefings name the person in their account's buying group.
        await removeFromBuyingGroups(trx, id, row.email);
        await suppression.suppress(trx, row.email, 'erased');
        // Every process drops the lead's cached tracking links when this commits (services.ts).
        await sql`select pg_notify(${LEAD_ERASED_CHANNEL}, ${id})`.execute(trx);
        return true;
      });
    },

    importCsv(input) {
      return importLeadsCsv(input, (rows) => writeImportBatch(rows));
    },

    async openCsvExport(filter, options = {}) {
      const first = await listLeads(db, { ...filter, limit: EXPORT_PAGE_SIZE });
      async function* rows(): AsyncGenerator<string[]> {
        let page: LeadRow[] = first;
        for (;;) {
          for (const row of page.slice(0, EXPORT_PAGE_SIZE)) yield leadToCsvCells(toLead(row));
          const last = page[Math.min(page.length, EXPORT_PAGE_SIZE) - 1];
          if (page.length <= EXPORT_PAGE_SIZE || !last) return;
          page = await listLeads(db, { ...filter, after: { at: last.created_at, id: last.id }, limit: EXPORT_PAGE_SIZE });
        }
      }
      // Readable.from respects back-pressure: a slow client never makes the export sit in memory.
      // A UTF-8 BOM on request: without it Excel reads the file as Windows-1252 and shows "MÃ¼ller".
      return Readable.from(rows()).pipe(stringify({ header: true, columns: [...EXPORT_COLUMNS], quoted_match: /^'/, bom: options.bom === true }));
    },

    async identify(trx, emails, source) {
      const suppressedAmongAll = await suppression.lockAndCheck(trx, emails);
      const idByEmail = new Map((await findLeadsByEmails(trx, emails)).map((row) => [row.email.toLowerCase(), row.id]));
      const unknown = [...new Set(emails.map((email) => email.toLowerCase()))].filter((email) => !idByEmail.has(email));
      const suppressed = new Set(unknown.filter((email) => suppressedAmongAll.has(email)));
      const writes = unknown
        .filter((email) => !suppressed.has(email))
        .flatMap((email) => {
          const merged = mergeUpsert(undefined, { email, source }, 'api', clock());
          return merged.ok ? [merged.write] : [];
        });
      for (const { row } of await writeLeads(trx, writes)) idByEmail.set(row.email.toLowerCase(), row.id);
      return { idByEmail, suppressed };
    },

    lockIds: (trx, ids) => lockExistingLeadIds(trx, ids),

    async optOut(id) {
      const result = await markUnsubscribed(db, id);
      if (result === undefined) return 'not_found';
      return result.changed ? 'unsubscribed' : 'already';
    },
  };

  /** One import batch in one transaction, its addresses locked against a concurrent erasure. */
  async function writeImportBatch(rows: ImportRow[]): Promise<{ created: number; updated: number; rejections: RowRejection[] }> {
    return db.transaction().execute(async (trx) => {
      const emails = rows.map((row) => row.input.email);
      const suppressed = await suppression.lockAndCheck(trx, emails);
      const existing = new Map((await findLeadsByEmails(trx, emails)).map((row) => [row.email.toLowerCase(), row]));
      const rejections: RowRejection[] = [];
      const writes: LeadWrite[] = [];
      for (const row of rows) {
        const key = row.input.email.toLowerCase();
        if (suppressed.has(key)) {
          rejections.push({
            line: row.line,
            email: row.input.email,
            reason: 'address is suppressed (erased or permanently undeliverable) and will not be imported',
          });
          continue;
        }
        const merged = mergeUpsert(existing.get(key), row.input, 'import', clock());
        if (merged.ok) writes.push(merged.write);
        else rejections.push({ line: row.line, email: row.input.email, reason: merged.problems.map((problem) => problem.message).join('; ') });
      }
      return { ...(await writeLeadsCounting(trx, writes)), rejections };
    });
  }

  return service;
}
