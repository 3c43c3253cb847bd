import { createHmac, randomBytes } from 'node:crypto';
import { createWebhookSender } from '../../src/webhooks/webhook-sender.js';
import { verifyWebhook } from '../../src/webhooks/webhook-signature.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/* Real HTTP to a receiver on 127.0.0.1, so these senders must allow private addresses and http. */

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const local = createWebhookSender({ allowPrivate: true, allowInsecure: true, timeoutMs: 2_000 });
const message = { id: 'msg_2vQ8', payload: { type: 'lead.handed_off', data: { leadId: '0b9c4bde', note: 'Zoë asked for pricing' } }, secrets: [secret] };

let receiver: WebhookReceiver;
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(() => receiver.close());

describe('sending a webhook', () => {
  it('POSTs the JSON payload with Standard Webhooks headers that the receiver can verify', async () => {
    const now = Date.now();
    const outcome = await local.send({ ...message, url: receiver.url('/in?source=baton'), now });

    expect(outcome).toEqual({ kind: 'delivered', status: 204, responseExcerpt: '' });
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    if (!request) throw new Error('no request arrived');
    expect(request).toMatchObject({ method: 'POST', path: '/in?source=baton', body: JSON.stringify(message.payload) });
    expect(request.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Baton-Webhooks/1',
      'webhook-id': 'msg_2vQ8',
      'webhook-timestamp': String(Math.floor(now / 1000)),
    });

    const [id, timestamp, signature] = ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => String(request.headers[name]));
    // Independently of Baton's code: HMAC-SHA256 over "{id}.{timestamp}.{raw body}" with the key bytes.
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest('base64');
    expect(signature).toBe(`v1,${expected}`);
    expect(
      verifyWebhook({ id: String(id), timestamp: String(timestamp), signature: String(signature), body: request.body, secrets: [secret], now: Date.now() }),
    ).toEqual({
      ok: true,
    });
  });

  it('signs with every secret during a rotation', async () => {
    const next = `whsec_${randomBytes(24).toString('base64')}`;
    await local.send({ ...message, secrets: [next, secret], url: receiver.url() });
    const headers = receiver.requests[0]?.headers ?? {};
    const signatures = String(headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    const check = (known: string) =>
      verifyWebhook({
        id: String(headers['webhook-id']),
        timestamp: String(headers['webhook-timestamp']),
        signature: signatures.join(' '),
        body: receiver.requests[0]?.body ?? '',
        secrets: [known],
        now: Date.now(),
      });
    expect(check(secret)).toEqual({ ok: true });
    expect(check(next)).toEqual({ ok: true });
  });

  it('reports 2xx as delivered, with the start of the response body', async () => {
    receiver.answer((response) => response.writeHead(200, { 'content-type': 'text/plain' }).end(`received ${'x'.repeat(1000)}`));
    const outcome = await local.send({ ...message, url: receiver.url() });
    expect(outcome).toEqual({ kind: 'delivered', status: 200, responseExcerpt: `received ${'x'.repeat(491)}` });
  });

  it('reports 410 as gone, so the caller disables the endpoint', async () => {
    receiver.answer((response) => response.writeHead(410).end('endpoint deleted'));
    await expect(local.send({ ...message, url: receiver.url() })).resolves.toEqual({ kind: 'gone', status: 410, responseExcerpt: 'endpoint deleted' });
  });

  it('retries a 500', async () => {
    receiver.answer((response) => response.writeHead(500).end('boom'));
    await expect(local.send({ ...message, url: receiver.url() })).resolves.toEqual({
      kind: 'retry',
      status: 500,
      reason: 'the receiver failed (HTTP 500)',
      responseExcerpt: 'boom',
    });
  });

  it('does not follow a 302: one request, and a retry', async () => {
    receiver.answer((response, request) =>
      request.path === '/moved' ? response.writeHead(302, { location: '/elsewhere' }).end() : response.writeHead(200).end(),
    );
    const outcome = await local.send({ ...message, url: receiver.url('/moved') });
    expect(outcome).toMatchObject({ kind: 'retry', status: 302, reason: expect.stringContaining('redirected to /elsewhere') });
    expect(receiver.requests.map((request) => request.path)).toEqual(['/moved']);
  });

  it('reports a 404 as failed', async () => {
    receiver.answer((response) => response.writeHead(404).end('no such hook'));
    await expect(local.send({ ...message, url: receiver.url() })).resolves.toEqual({
      kind: 'failed',
      status: 404,
      reason: 'the receiver rejected the webhook with HTTP 404',
      responseExcerpt: 'no such hook',
    });
  });

  it('honours Retry-After on a 429', async () => {
    receiver.answer((response) => response.writeHead(429, { 'retry-after': '120' }).end());
    await expect(local.send({ ...message, url: receiver.url() })).resolves.toMatchObject({ kind: 'retry', status: 429, retryAfterMs: 120_000 });
  });

  it('gives up on a slow receiver at the timeout and asks for a retry', async () => {
    receiver.answer((response) => {
      setTimeout(() => response.writeHead(200).end(), 5_000).unref();
    });
    const quick = createWebhookSender({ allowPrivate: true, allowInsecure: true, timeoutMs: 300 });
    const startedAt = Date.now();
    const outcome = await quick.send({ ...message, url: receiver.url() });
    expect(outcome).toEqual({ kind: 'retry', reason: 'no response within 300 ms' });
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(receiver.requests).toHaveLength(1);
  });

  it('reads at most 64 KB of a huge response and still classifies it', async () => {
    let written = 0;
    receiver.answer((response) => {
      response.writeHead(200);
      // Keeps writing for as long as the connection is open; the sender must hang up on its own.
      const pump = () => {
        while (written < 50 * 1024 * 1024 && response.write(Buffer.alloc(16 * 1024, 'a'))) written += 16 * 1024;
        if (!response.destroyed) response.once('drain', pump);
      };
      pump();
    });
    const patient = createWebhookSender({ allowPrivate: true, allowInsecure: true, timeoutMs: 20_000 });
    const startedAt = Date.now();
    const outcome = await patient.send({ ...message, url: receiver.url() });
    expect(outcome).toEqual({ kind: 'delivered', status: 200, responseExcerpt: 'a'.repeat(500) });
    // It hung up after 64 KB rather than reading on until the timeout.
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(written).toBeLessThan(50 * 1024 * 1024);
  });

  it('reports a refused connection as a retry instead of throwing', async () => {
    const port = receiver.port;
    await receiver.close();
    receiver = await startWebhookReceiver(); // afterEach closes this one
    const outcome = await local.send({ ...message, url: `http://127.0.0.1:${port}/in` });
    expect(outcome).toEqual({ kind: 'retry', reason: expect.stringContaining('ECONNREFUSED') });
  });

  it('connects to the address it checked, keeping the host name in the Host header', async () => {
    // A resolver that answers once, then would send a second lookup elsewhere: the sender must not ask twice.
    const answers = ['127.0.0.1', '192.0.2.1'];
    const resolve = async () => [{ address: answers.shift() ?? '192.0.2.1', family: 4 }];
    const pinned = createWebhookSender({ allowPrivate: true, allowInsecure: true, timeoutMs: 2_000, resolve });
    const outcome = await pinned.send({ ...message, url: `http://hooks.example.test:${receiver.port}/in` });
    expect(outcome).toMatchObject({ kind: 'delivered', status: 204 });
    expect(receiver.requests[0]?.headers.host).toBe(`hooks.example.test:${receiver.port}`);
    expect(answers).toEqual(['192.0.2.1']);
  });
});

describe('refusing private destinations', () => {
  const guarded = createWebhookSender({ allowPrivate: false, allowInsecure: true, timeoutMs: 2_000 });

  it.each([['127.0.0.1'], ['localhost']])('refuses http://%s:<port> and sends nothing', async (host) => {
    const outcome = await guarded.send({ ...message, id: 'msg_refused', url: `http://${host}:${receiver.port}/in` });
    expect(outcome).toEqual({ kind: 'refused', reason: expect.stringContaining('is a private, loopback or reserved address') });
    // A later request that is allowed arrives alone: the refused one was never on its way.
    await local.send({ ...message, id: 'msg_allowed', url: receiver.url() });
    expect(receiver.requests.map((request) => request.headers['webhook-id'])).toEqual(['msg_allowed']);
  });

  it('refuses http unless allowInsecure, before any request', async () => {
    const strict = createWebhookSender({ allowPrivate: true });
    await expect(strict.send({ ...message, url: receiver.url() })).resolves.toEqual({ kind: 'refused', reason: 'a webhook URL must use https, not http' });
    expect(receiver.requests).toHaveLength(0);
  });
});

describe('programming errors', () => {
  it.each([
    ['no secret', { secrets: [] }, 'a webhook needs at least one secret to be signed with'],
    ['an invalid secret', { secrets: ['not-a-secret'] }, 'webhook secret #1 is invalid'],
    ['an id with a space', { id: 'msg 1' }, 'a webhook id is 1 to 256 visible ASCII characters without spaces'],
    ['a payload that is not JSON', { payload: undefined }, 'a webhook payload must be JSON-serialisable'],
  ])('throw for %s, and nothing is sent', async (_name, change, error) => {
    await expect(local.send({ ...message, url: receiver.url(), ...change })).rejects.toThrow(error);
    expect(receiver.requests).toHaveLength(0);
  });
});
