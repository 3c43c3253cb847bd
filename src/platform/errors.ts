/*
 * The error registry. Each code says when it is thrown and maps to exactly one HTTP status; the
 * error middleware renders { error: { code, message, details } }. `message` is safe to show to
 * API clients; internal causes go to the log, never to the response.
 */
export const ERROR_CODES = {
  validation_failed: {
    status: 400,
    when: 'A body, query or path field is missing, unknown or has a bad value; details list the first 20 problems, the message counts the rest.',
  },
  malformed_json: { status: 400, when: 'The request body is not valid JSON.' },
  invalid_cursor: { status: 400, when: 'A pagination cursor was not produced by Baton or was altered.' },
  csv_malformed: { status: 400, when: 'A CSV upload cannot be parsed (unclosed quote, no header); rows before the fault are kept and counted.' },
  origin_not_allowed: { status: 403, when: 'A snippet call (/collect) came from a page whose origin is not in BATON_SITE_ORIGINS, or with no Origin header.' },
  site_key_unknown: { status: 403, when: 'A snippet call (/collect) carried a site key other than BATON_SITE_KEY (the data-site attribute).' },
  rate_limited: {
    status: 429,
    when: 'Too many snippet calls from one visitor or one IP address (BATON_COLLECT_VISITOR_RATE, BATON_COLLECT_IP_RATE); Retry-After says when to try again.',
  },
  unauthorized: { status: 401, when: 'An /api route was called without a valid `Authorization: Bearer <BATON_API_KEY>` header.' },
  esp_webhook_unverified: { status: 401, when: 'An ESP webhook (/webhooks/esp/*) was unsigned, forged, too old or replayed; nothing was recorded.' },
  route_not_found: { status: 404, when: 'No route matches the method and path.' },
  lead_not_found: { status: 404, when: 'No lead has the id in the path or body.' },
  lead_email_taken: { status: 409, when: 'A PATCH gives a lead an email another lead already has.' },
  sequence_not_found: { status: 404, when: 'No loaded sequence has the id in the path.' },
  already_enrolled: { status: 409, when: 'The lead already has an active enrollment in that sequence.' },
  not_eligible: {
    status: 422,
    when: 'The lead may not enter the sequence: paused sequence, opted out, entry conditions, or re-entry policy; the message says which.',
  },
  handoff_not_found: { status: 404, when: 'No handoff has the id in the path.' },
  handoff_decided: { status: 409, when: 'The handoff was already decided otherwise (e.g. reject after convert); details give its status.' },
  scoring_not_configured: { status: 404, when: 'Scores and handoffs were asked for, but Baton runs without a scoring file.' },
  webhook_delivery_not_found: { status: 404, when: 'No lifecycle webhook delivery has the id in the path.' },
  webhook_delivery_pending: { status: 409, when: 'A redelivery was asked for a delivery that is still being tried.' },
  webhook_endpoint_not_configured: { status: 409, when: 'A redelivery was asked for a delivery whose endpoint is no longer in webhooks.yaml.' },
  form_not_found: { status: 404, when: 'No form (forms/*.yaml) has the id in the path.' },
  form_origin_not_allowed: { status: 403, when: "A form was posted from a site that is neither Baton nor one of the form's allowed_origins." },
  form_rate_limited: { status: 429, when: 'Too many form submits from one IP address; Retry-After says when to try again.' },
  mail_not_found: { status: 404, when: 'No message caught by the embedded SMTP sink has the id in the path.' },
  email_suppressed: { status: 409, when: 'The address was erased or suppressed; Baton will not store or mail it again.' },
  payload_too_large: { status: 413, when: 'The body is larger than the route accepts.' },
  unsupported_media_type: { status: 415, when: 'The Content-Type is not one the route accepts.' },
  internal_error: { status: 500, when: 'A bug. Logged with the errorId the response carries.' },
  capture_backlogged: {
    status: 503,
    when: 'A snippet event (/collect) arrived while the website event buffer was full (the database away or behind); it was not recorded; Retry-After says when to try again.',
  },
  database_unavailable: { status: 503, when: 'The database does not answer.' },
} as const satisfies Record<string, { status: number; when: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface FieldProblem {
  field: string;
  location?: 'body' | 'query' | 'path' | 'header' | 'row';
  message: string;
}

export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_CODES[code].status;
  }
}

/**
 * How many problems a validation error lists. A body of 60,000 unknown fields used to get an
 * error eight times its size (issue 16); the count of the rest is still given.
 */
export const MAX_LISTED_PROBLEMS = 20;
const MAX_FIELD_CHARS = 100;
const MAX_MESSAGE_CHARS = 300;

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Keeps a problem short: a client chooses field names, and one can be a megabyte long. */
function boundedProblem(problem: FieldProblem): FieldProblem {
  if (problem.field.length <= MAX_FIELD_CHARS && problem.message.length <= MAX_MESSAGE_CHARS) return problem;
  const field = shorten(problem.field, MAX_FIELD_CHARS);
  const message = problem.message.startsWith(problem.field) ? `${field}${problem.message.slice(problem.field.length)}` : problem.message;
  return { ...problem, field, message: shorten(message, MAX_MESSAGE_CHARS) };
}

/** `total` counts problems beyond those passed, when the caller stopped collecting them. */
export function validationError(problems: FieldProblem[], total = problems.length): AppError {
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map(boundedProblem);
  const more = Math.max(total, problems.length) - listed.length;
  const summary = [...listed.map((problem) => problem.message), ...(more > 0 ? [`and ${more} more problem${more === 1 ? '' : 's'}`] : [])].join('; ');
  return new AppError('validation_failed', `Invalid request: ${summary}`, listed);
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
