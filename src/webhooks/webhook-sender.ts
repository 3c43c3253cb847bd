import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkDestination, resolveWithSystem, type Destination, type ResolveHost } from './destination-guard.js';
import { classifyWebhookResponse, type ReceiverResponse, type WebhookOutcome } from './webhook-outcome.js';
import { signWebhook } from './webhook-signature.js';

/*
 * Sends one signed webhook (Standard Webhooks headers) and reports what happened as a value.
 * Network trouble never throws: it becomes a `retry` outcome. Programming errors (no secret, an
 * invalid secret, a payload that is not JSON) do throw, before any request is made.
 */

export { webhookRetryDelayMs, type WebhookOutcome } from './webhook-outcome.js';

export const WEBHOOK_USER_AGENT = 'Baton-Webhooks/1';
const MAX_RESPONSE_BYTES = 64 * 1024;
const EXCERPT_CHARS = 500;

export interface WebhookSenderOptions {
  /** Operator setting BATON_WEBHOOK_ALLOW_PRIVATE: allow private and loopback destinations. */
  allowPrivate: boolean;
  /** Whole attempt, DNS to last byte read. */
  timeoutMs?: number;
  /** Allow plain http URLs (tests, local development). */
  allowInsecure?: boolean;
  /** Name resolution; the system resolver unless a test supplies another. */
  resolve?: ResolveHost;
}

export interface WebhookMessage {
  url: string;
  /** `webhook-id`: the same for every attempt of one message, so receivers can drop duplicates. */
  id: string;
  payload: unknown;
  /** `whsec_…` secrets of the endpoint; more than one while a secret is being rotated. */
  secrets: readonly string[];
  /** Milliseconds since the epoch for `webhook-timestamp`; defaults to the current time. */
  now?: number;
}

export interface WebhookSender {
  send(message: WebhookMessage): Promise<WebhookOutcome>;
}

type Attempt = ReceiverResponse | { error: string };

export function createWebhookSender({
  allowPrivate,
  timeoutMs = 10_000,
  allowInsecure = false,
  resolve = resolveWithSystem,
}: WebhookSenderOptions): WebhookSender {
  return {
    async send({ url, id, payload, secrets, now = Date.now() }) {
      if (!/^[\x21-\x7e]{1,256}$/.test(id)) throw new Error('a webhook id is 1 to 256 visible ASCII characters without spaces');
      const body: string | undefined = JSON.stringify(payload);
      if (body === undefined) throw new Error('a webhook payload must be JSON-serialisable');
      const timestamp = Math.floor(now / 1000);
      const signature = signWebhook({ id, timestamp, body, secrets });

      const startedAt = Date.now();
      const unresolved: Destination = { kind: 'unresolved', reason: `name resolution took longer than ${timeoutMs} ms` };
      const destination = await withDeadline(checkDestination(url, { allowPrivate, allowInsecure }, resolve), timeoutMs, unresolved);
      if (destination.kind === 'refused') return { kind: 'refused', reason: destination.reason };
      if (destination.kind === 'unresolved') return { kind: 'retry', reason: destination.reason };

      const headers: OutgoingHttpHeaders = {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'user-agent': WEBHOOK_USER_AGENT,
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      };
      const remainingMs = Math.max(1, timeoutMs - (Date.now() - startedAt));
      const attempt = await post(destination, headers, body, remainingMs, `no response within ${timeoutMs} ms`);
      if ('error' in attempt) return { kind: 'retry', reason: attempt.error };
      return classifyWebhookResponse(attempt, Date.now());
    },
  };
}

function withDeadline<T>(work: Promise<T>, ms: number, late: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/*
 * Connect to the address the guard approved instead of resolving the name again. The request keeps
 * the original host name, so the Host header, TLS SNI and certificate check all use that name.
 * Node asks for either one address or, with `all` (autoSelectFamily), a list.
 */
function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

function post(
  destination: Extract<Destination, { kind: 'allowed' }>,
  headers: OutgoingHttpHeaders,
  body: string,
  waitMs: number,
  lateReason: string,
): Promise<Attempt> {
  return new Promise((resolve) => {
    const send = destination.url.protocol === 'https:' ? httpsRequest : httpRequest;
    let response: IncomingMessage | undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;

    const read = (): ReceiverResponse => {
      const retryAfter = response?.headers['retry-after'];
      const location = response?.headers.location;
      return {
        status: response?.statusCode ?? 0,
        responseExcerpt: Buffer.concat(chunks).toString('utf8').slice(0, EXCERPT_CHARS),
        ...(retryAfter === undefined ? {} : { retryAfter }),
        ...(location === undefined ? {} : { location }),
      };
    };
    // Once the status line has arrived it decides the outcome, even if the body is cut short.
    const finish = (failure?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(response ? read() : { error: failure ?? 'the connection closed without a response' });
      request.destroy();
    };
    const timer = setTimeout(() => finish(lateReason), waitMs);

    // agent: false, so no pooled socket (resolved under another policy) is ever reused; redirects are
    // never followed because node:http does not follow them.
    const request = send(destination.url, { method: 'POST', headers, agent: false, lookup: pinnedLookup(destination.address, destination.family) });
    request.on('error', (error) => finish(`request failed: ${error.message}`));
    request.on('response', (incoming) => {
      response = incoming;
      incoming.on('data', (chunk: Buffer) => {
        if (received < MAX_RESPONSE_BYTES) chunks.push(chunk.subarray(0, MAX_RESPONSE_BYTES - received));
        received += chunk.length;
        if (received >= MAX_RESPONSE_BYTES) finish();
      });
      incoming.on('error', () => finish());
      incoming.on('close', () => finish());
    });
    request.end(body);
  });
}
