import { pipeline, Readable } from 'node:stream';
import { parse, CsvError } from 'csv-parse';
import { AppError, isAppError } from '../platform/errors.js';
import type { LeadInput } from './lead.js';
import { detectDelimiter, mapHeader, mapRow, type ColumnTarget } from './lead-csv.js';
import { leadInputSchema } from './leads.schemas.js';

const BATCH_SIZE = 1000;
const MAX_IN_FLIGHT = 2;
// Preferences bound once: passing options to every validate() call makes Joi merge them per row.
const rowSchema = leadInputSchema.prefs({ abortEarly: false, errors: { wrap: { label: false } } });
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

export interface ImportRow {
  line: number;
  input: LeadInput;
}

/** Writes one batch of valid rows (distinct addresses) and reports the rows it refused. */
export type WriteBatch = (rows: ImportRow[]) => Promise<{ created: number; updated: number; rejections: RowRejection[] }>;

interface ParsedRecord {
  record: string[];
  info: { lines: number };
}

/**
 * Streams a CSV of leads through validation into batches, so memory stays flat whatever the file
 * size. One batch is written while the next is parsed; each bad row is reported with its line.
 */
export async function importLeadsCsv(input: Readable, writeBatch: WriteBatch): Promise<ImportReport> {
  const report: ImportReport = { rows: 0, created: 0, updated: 0, rejected: 0, rejections: [], rejectionsTruncated: false };
  const reject = (rejection: RowRejection) => {
    report.rejected++;
    if (report.rejections.length < MAX_REPORTED_REJECTIONS) report.rejections.push(rejection);
    else report.rejectionsTruncated = true;
  };

  // Up to MAX_IN_FLIGHT batches are written at once while parsing goes on. A batch that shares an
  // address with one still in flight waits for it, so a repeated address is written in file order.
  const inFlight: Array<{ emails: Set<string>; done: Promise<void> }> = [];
  let batch = new Map<string, ImportRow>();
  let writeFailure: unknown = null;
  const settle = async (entry: { done: Promise<void> }) => {
    await entry.done;
    inFlight.splice(
      inFlight.findIndex((candidate) => candidate === entry),
      1,
    );
  };
  const flush = async () => {
    if (writeFailure) throw writeFailure;
    if (batch.size === 0) return;
    const rows = [...batch.values()];
    const emails = new Set(batch.keys());
    batch = new Map();
    for (const entry of [...inFlight]) if ([...emails].some((email) => entry.emails.has(email))) await settle(entry);
    while (inFlight.length >= MAX_IN_FLIGHT && inFlight[0]) await settle(inFlight[0]);
    const done = writeBatch(rows).then(
      (result) => {
        report.created += result.created;
        report.updated += result.updated;
        result.rejections.forEach(reject);
      },
      (error: unknown) => {
        writeFailure = error;
      },
    );
    inFlight.push({ emails, done });
  };
  const finish = async () => {
    await flush();
    while (inFlight[0]) await settle(inFlight[0]);
    if (writeFailure) throw writeFailure;
  };

  let targets: ColumnTarget[] | null = null;
  try {
    const { stream, delimiter, hintLine } = await sniffDelimiter(input);
    const parser = parse({
      bom: true,
      delimiter,
      from_line: hintLine ? 2 : 1,
      relax_column_count: true,
      skip_empty_lines: true,
      max_record_size: 65_536,
      info: true,
    });
    // pipeline, not pipe: a client that aborts the upload must end the loop below with an error.
    pipeline(stream, parser, () => undefined);
    for await (const { record, info } of parser as AsyncIterable<ParsedRecord>) {
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
        reject({ line, email: null, reason: mapped.reason });
        continue;
      }
      // Not destructured: Joi types a failed result's value `any`; narrowed on `error`, it is typed.
      const validated = rowSchema.validate(mapped.candidate);
      if (validated.error) {
        reject({
          line,
          email: typeof mapped.candidate.email === 'string' ? mapped.candidate.email : null,
          reason: validated.error.details.map((detail) => detail.message).join('; '),
        });
        continue;
      }
      const { value } = validated;
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
      throw new AppError('csv_malformed', `CSV cannot be parsed${line ? ` at line ${line}` : ''}: ${error.message}; rows before it were imported`, {
        line,
        ...report,
      });
    }
    if (isAppError(error) && error.code === 'validation_failed') {
      // The upload itself broke off (a truncated multipart body): keep what was read, as above.
      await finish();
      throw new AppError(
        error.code,
        `${error.message}; rows before the cut were imported (${report.created} created, ${report.updated} updated)`,
        error.details,
      );
    }
    throw error;
  }
  if (targets === null) throw new AppError('csv_malformed', 'CSV is empty: expected a header row with an email column', { line: 1, ...report });
  return report;
}

/** Reads up to the end of the first line to choose the delimiter, then hands on the whole stream. */
async function sniffDelimiter(input: Readable): Promise<{ stream: Readable } & ReturnType<typeof detectDelimiter>> {
  const iterator: AsyncIterator<unknown> = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(String(next.value));
    head.push(chunk);
    size += chunk.length;
    if (chunk.includes(0x0a) || size >= 65_536) break;
  }
  const firstLine =
    Buffer.concat(head)
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .split(/\r?\n/)[0] ?? '';
  async function* whole(): AsyncGenerator<Buffer> {
    yield* head;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield Buffer.isBuffer(next.value) ? next.value : Buffer.from(String(next.value));
    }
  }
  return { stream: Readable.from(whole(), { objectMode: false }), ...detectDelimiter(firstLine) };
}
