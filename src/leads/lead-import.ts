import type { Readable } from 'node:stream';
import { parse, CsvError } from 'csv-parse';
import type { Kysely } from 'kysely';
import { AppError } from '../platform/errors.js';
import type { Database } from '../platform/db/schema.js';
import type { SuppressionService } from '../suppression/suppression.service.js';
import type { LeadInput } from './lead.js';
import { mapHeader, mapRow, type ColumnTarget } from './lead-csv.js';
import { upsertLeadsCounting } from './leads.repository.js';
import { leadInputSchema } from './leads.schemas.js';

const BATCH_SIZE = 1000;
const MAX_REPORTED_REJECTIONS = 1000;

export interface RowRejection {
  /** Line in the file (the header is line 1), as a spreadsheet shows it. */
  line: number;
  email: string | null;
  reason: string;
}

export interface ImportReport {
  rows: number;
  created: number;
  updated: number;
  rejected: number;
  rejections: RowRejection[];
  /** True when more rows were rejected than `rejections` lists. */
  rejectionsTruncated: boolean;
}

interface PendingRow {
  line: number;
  input: LeadInput;
}

/**
 * Streams a CSV of leads into the database in batches, so memory stays flat whatever the file
 * size. Rows are validated like API input; each bad row is reported with its line and reason.
 * Suppressed addresses are rejected, and an opt-out in the database is never undone.
 */
export async function importLeadsCsv(input: Readable, db: Kysely<Database>, suppression: SuppressionService): Promise<ImportReport> {
  const report: ImportReport = { rows: 0, created: 0, updated: 0, rejected: 0, rejections: [], rejectionsTruncated: false };
  const reject = (line: number, email: string | null, reason: string) => {
    report.rejected++;
    if (report.rejections.length < MAX_REPORTED_REJECTIONS) report.rejections.push({ line, email, reason });
    else report.rejectionsTruncated = true;
  };

  // Writes one batch while the next is parsed; at most one batch is in the database at a time,
  // so a repeated address is always written in file order.
  const write = async (rows: PendingRow[]) => {
    const suppressed = await suppression.suppressedAmong(rows.map((row) => row.input.email));
    const accepted = rows.filter((row) => {
      if (!suppressed.has(row.input.email.toLowerCase())) return true;
      reject(row.line, row.input.email, 'address is suppressed (erased or permanently undeliverable) and will not be imported');
      return false;
    });
    const counts = await upsertLeadsCounting(db, accepted.map((row) => row.input));
    report.created += counts.created;
    report.updated += counts.updated;
  };
  let batch = new Map<string, PendingRow>();
  let writing: Promise<void> = Promise.resolve();
  let writeFailure: unknown = null;
  const flush = async () => {
    await writing;
    if (writeFailure) throw writeFailure;
    if (batch.size === 0) return;
    const rows = [...batch.values()];
    batch = new Map();
    writing = write(rows).catch((error: unknown) => {
      writeFailure = error;
    });
  };
  const finish = async () => {
    await flush();
    await writing;
    if (writeFailure) throw writeFailure;
  };

  const parser = input.pipe(parse({ bom: true, relax_column_count: true, skip_empty_lines: true, max_record_size: 65_536, info: true }));
  let targets: ColumnTarget[] | null = null;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (targets === null) {
        const header = mapHeader(record);
        if (header.problems.length > 0) throw new AppError('csv_malformed', `CSV header: ${header.problems.join('; ')}`, { line: 1, ...report });
        targets = header.targets;
        continue;
      }
      report.rows++;
      const line = info.lines;
      const mapped = mapRow(record, targets);
      if (!mapped.ok) {
        reject(line, null, mapped.reason);
        continue;
      }
      const { value, error } = leadInputSchema.validate(mapped.candidate, { abortEarly: false, errors: { wrap: { label: false } } });
      if (error) {
        reject(line, typeof mapped.candidate.email === 'string' ? mapped.candidate.email : null, error.details.map((detail) => detail.message).join('; '));
        continue;
      }
      const key = value.email.toLowerCase();
      // One statement cannot update the same lead twice: a repeated address waits for the next batch.
      if (batch.has(key)) await flush();
      batch.set(key, { line, input: value });
      if (batch.size >= BATCH_SIZE) await flush();
    }
    await finish();
  } catch (error) {
    if (error instanceof CsvError) {
      await finish();
      const line = typeof error.lines === 'number' ? error.lines : null;
      throw new AppError('csv_malformed', `CSV cannot be parsed${line ? ` at line ${line}` : ''}: ${error.message}; rows before it were imported`, { line, ...report });
    }
    throw error;
  }
  if (targets === null) throw new AppError('csv_malformed', 'CSV is empty: expected a header row with an email column', { line: 1, ...report });
  return report;
}
