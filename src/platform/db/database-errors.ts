/*
 * Which failures mean "the database is not there right now" rather than "this query is wrong".
 * Such a failure may succeed later: HTTP answers 503, loops wait and try again, and nothing is
 * treated as a bug.
 */

/** Thrown by Baton itself when the database does not answer (down, frozen, restarting). */
export class DatabaseUnavailableError extends Error {
  readonly code = 'database_unavailable';

  constructor(message = 'the database is not answering') {
    super(message);
    this.name = 'DatabaseUnavailableError';
  }
}

// Socket failures, and the server's own "shutting down / starting up / cannot connect now"
// (57P01–57P03) and connection exceptions (class 08).
const DATABASE_DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  'database_unavailable',
]);
// pg and pg-pool say these in words only.
const DATABASE_DOWN_MESSAGES =
  /Connection terminated|after calling end on the pool|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed|Query read timeout|timeout expired/;

export function isDatabaseDown(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (error instanceof DatabaseUnavailableError) return true;
  if ('code' in error && typeof error.code === 'string' && DATABASE_DOWN_CODES.has(error.code)) return true;
  return error instanceof Error && DATABASE_DOWN_MESSAGES.test(error.message);
}
