import type { Readable, Writable } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination.js';
import type { SuppressionService } from '../suppression/suppression.service.js';
import { listEventsForExport } from '../events/events.repository.js';
import { toEvent, type LeadEvent } from '../events/event.js';
import { toLead, type Lead, type LeadFields, type LeadInput, type LeadRow } from './lead.js';
import { EXPORT_COLUMNS, leadToCsvCells } from './lead-csv.js';
import { importLeadsCsv, type ImportReport } from './lead-import.js';
import { deleteLead, findLeadById, listLeads, updateLead, upsertLeads, type LeadFilter } from './leads.repository.js';
import type { LeadListQuery } from './leads.schemas.js';

export type UpsertOutcome = { kind: 'created' | 'updated'; lead: Lead } | { kind: 'suppressed' };
export type UpdateOutcome = { kind: 'updated'; lead: Lead } | { kind: 'not_found' } | { kind: 'suppressed' } | { kind: 'email_taken' };

export interface LeadExport {
  exportedAt: string;
  lead: Lead;
  events: LeadEvent[];
}

export interface LeadsService {
  upsert(input: LeadInput): Promise<UpsertOutcome>;
  get(id: string): Promise<Lead | null>;
  list(query: LeadListQuery): Promise<Page<Lead>>;
  update(id: string, patch: LeadFields & { email?: string }): Promise<UpdateOutcome>;
  /** Deletes the lead and its events; keeps only a suppression hash. False when there was no lead. */
  erase(id: string): Promise<boolean>;
  exportOne(id: string): Promise<LeadExport | null>;
  importCsv(input: Readable): Promise<ImportReport>;
  exportCsv(filter: Omit<LeadListQuery, 'limit' | 'cursor'>, output: Writable): Promise<void>;
}

const EXPORT_PAGE_SIZE = 1000;

export function createLeadsService(db: Kysely<Database>, suppression: SuppressionService): LeadsService {
  return {
    async upsert(input) {
      if (await suppression.isSuppressed(input.email)) return { kind: 'suppressed' };
      const [result] = await upsertLeads(db, [input]);
      if (!result) throw new Error('upsert returned no row');
      return { kind: result.created ? 'created' : 'updated', lead: toLead(result.row) };
    },

    async get(id) {
      const row = await findLeadById(db, id);
      return row ? toLead(row) : null;
    },

    async list(query) {
      const filter: LeadFilter = { email: query.email, tag: query.tag, q: query.q, limit: query.limit };
      if (query.cursor) filter.after = decodeCursor(query.cursor);
      const rows = await listLeads(db, filter);
      return toPage(rows, query.limit, (row) => ({ at: row.created_at, id: row.id }), toLead);
    },

    async update(id, patch) {
      if (patch.email && (await suppression.isSuppressed(patch.email))) return { kind: 'suppressed' };
      try {
        const row = await updateLead(db, id, patch);
        return row ? { kind: 'updated', lead: toLead(row) } : { kind: 'not_found' };
      } catch (error) {
        if (isUniqueViolation(error, 'leads_email_unique')) return { kind: 'email_taken' };
        throw error;
      }
    },

    async erase(id) {
      return db.transaction().execute(async (trx) => {
        const row = await deleteLead(trx, id);
        if (!row) return false;
        await suppression.suppress(trx, row.email, 'erased');
        return true;
      });
    },

    async exportOne(id) {
      const row = await findLeadById(db, id);
      if (!row) return null;
      const events = await listEventsForExport(db, id);
      return { exportedAt: new Date().toISOString(), lead: toLead(row), events: events.map(toEvent) };
    },

    importCsv(input) {
      return importLeadsCsv(input, db, suppression);
    },

    async exportCsv(filter, output) {
      const csv = stringify({ header: true, columns: [...EXPORT_COLUMNS], quoted_match: /^'/ });
      csv.pipe(output);
      let after: LeadFilter['after'];
      for (;;) {
        const rows: LeadRow[] = await listLeads(db, { ...filter, after, limit: EXPORT_PAGE_SIZE });
        for (const row of rows.slice(0, EXPORT_PAGE_SIZE)) {
          // Respect back-pressure so a slow client does not make the whole export sit in memory.
          if (!csv.write(leadToCsvCells(toLead(row)))) await new Promise((resolve) => csv.once('drain', resolve));
        }
        const last = rows[Math.min(rows.length, EXPORT_PAGE_SIZE) - 1];
        if (rows.length <= EXPORT_PAGE_SIZE || !last) break;
        after = { at: last.created_at, id: last.id };
      }
      await new Promise<void>((resolve, reject) => {
        output.once('finish', resolve);
        output.once('error', reject);
        csv.end();
      });
    },
  };
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === '23505' && 'constraint' in error && error.constraint === constraint;
}
