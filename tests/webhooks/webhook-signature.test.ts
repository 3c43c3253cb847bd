import { createHmac, randomBytes } from 'node:crypto';
import { parseWebhookSecret, signWebhook, verifyWebhook } from '../../src/webhooks/webhook-signature.js';

// Independent of the code under test: the HMAC as the Standard Webhooks spec defines it.
const hmac = (secret: string, content: string) =>
  createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
    .update(content)
    .digest('base64');

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

describe('webhook secrets', () => {
  it('decodes the base64 after whsec_ into the key bytes', () => {
    const key = randomBytes(32);
    const parsed = parseWebhookSecret(`whsec_${key.toString('base64')}`);
    expect(parsed).toEqual({ ok: true, key });
  });

  it('accepts a 24-byte key, the smallest allowed', () => {
    const parsed = parseWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(parsed.ok && parsed.key.length).toBe(24);
  });

  it.each([
    ['no prefix', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'a webhook secret starts with "whsec_" followed by base64'],
    ['another prefix', 'whsek_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'a webhook secret starts with "whsec_" followed by base64'],
    ['nothing after the prefix', 'whsec_', 'the part after "whsec_" must be standard base64 (A-Z, a-z, 0-9, +, /, = padding)'],
    ['base64url characters', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_', 'the part after "whsec_" must be standard base64 (A-Z, a-z, 0-9, +, /, = padding)'],
    ['a space inside', 'whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw', 'the part after "whsec_" must be standard base64 (A-Z, a-z, 0-9, +, /, = padding)'],
    ['a trailing newline', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n', 'the part after "whsec_" must be standard base64 (A-Z, a-z, 0-9, +, /, = padding)'],
    ['a short key', `whsec_${Buffer.alloc(23, 1).toString('base64')}`, 'a webhook secret needs a key of at least 24 bytes; this one has 23'],
  ])('refuses %s with a message that does not repeat the secret', (_name, text, message) => {
    expect(parseWebhookSecret(text)).toEqual({ ok: false, message });
  });
});

describe('signing', () => {
  it('reproduces the Standard Webhooks published test vector', () => {
    // From the sign test of the standard-webhooks reference library (libraries/javascript/src/webhook.test.ts).
    const signature = signWebhook({
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: 1614265330,
      body: '{"test": 2432232314}',
      secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    });
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs "{id}.{timestamp}.{body}" with the key bytes, as an independent HMAC computes it', () => {
    const secret = newSecret();
    const body = JSON.stringify({ event: 'lead.handed_off', name: 'Zoë' });
    const signature = signWebhook({ id: 'msg_1', timestamp: 1_700_000_000, body, secrets: [secret] });
    expect(signature).toBe(`v1,${hmac(secret, `msg_1.1700000000.${body}`)}`);
  });

  it('puts one space-separated signature per secret, in the order given, while a secret rotates', () => {
    const [next, current] = [newSecret(), newSecret()];
    const signature = signWebhook({ id: 'msg_2', timestamp: 42, body: '{}', secrets: [next, current] });
    expect(signature.split(' ')).toEqual([`v1,${hmac(next, 'msg_2.42.{}')}`, `v1,${hmac(current, 'msg_2.42.{}')}`]);
  });

  it('throws on a missing or invalid secret: those are checked when they are stored', () => {
    expect(() => signWebhook({ id: 'm', timestamp: 1, body: '{}', secrets: [] })).toThrow('a webhook needs at least one secret to be signed with');
    expect(() => signWebhook({ id: 'm', timestamp: 1, body: '{}', secrets: [newSecret(), 'whsec_c2hvcnQ='] })).toThrow(
      'webhook secret #2 is invalid: a webhook secret needs a key of at least 24 bytes; this one has 5',
    );
  });
});

describe('verifying', () => {
  const secret = newSecret();
  const now = 1_700_000_000_000;
  const timestamp = String(now / 1000);
  const body = '{"lead":"0b9c4bde"}';
  const signed = { id: 'msg_3', timestamp, body, signature: `v1,${hmac(secret, `msg_3.${timestamp}.${body}`)}`, secrets: [secret], now };

  it('accepts the published test vector at its own time', () => {
    const verification = verifyWebhook({
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: '1614265330',
      body: '{"test": 2432232314}',
      signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      now: 1614265330_000,
    });
    expect(verification).toEqual({ ok: true });
  });

  it('accepts a signature made independently with the same secret', () => {
    expect(verifyWebhook(signed)).toEqual({ ok: true });
  });

  it('accepts when any listed signature matches any known secret (rotation on either side)', () => {
    const old = newSecret();
    const header = `v2,whatever v1,${hmac(newSecret(), `msg_3.${timestamp}.${body}`)} ${signed.signature}`;
    expect(verifyWebhook({ ...signed, signature: header, secrets: [old, secret] })).toEqual({ ok: true });
  });

  it.each([
    ['an altered body', { body: '{"lead":"other"}' }],
    ['another id', { id: 'msg_4' }],
    ['another timestamp', { timestamp: String(now / 1000 + 1) }],
    ['another secret', { secrets: [newSecret()] }],
    ['a truncated signature', { signature: signed.signature.slice(0, 20) }],
    ['an unknown version', { signature: signed.signature.replace('v1,', 'v2,') }],
    ['an empty header', { signature: '' }],
  ])('refuses %s', (_name, change) => {
    expect(verifyWebhook({ ...signed, ...change })).toEqual({ ok: false, reason: 'no v1 signature matches the secret' });
  });

  it.each([
    ['exactly 5 minutes old', -300, true],
    ['5 minutes and 1 second old', -301, false],
    ['exactly 5 minutes ahead', 300, true],
    ['5 minutes and 1 second ahead', 301, false],
  ])('a timestamp %s (%i s from now) is accepted: %s', (_name, offsetSeconds, accepted) => {
    const sentAt = String(now / 1000 + offsetSeconds);
    const verification = verifyWebhook({ ...signed, timestamp: sentAt, signature: `v1,${hmac(secret, `msg_3.${sentAt}.${body}`)}` });
    expect(verification.ok).toBe(accepted);
    if (!verification.ok) expect(verification.reason).toBe('webhook-timestamp is more than 300 seconds away from now');
  });

  it('refuses a timestamp that is not whole seconds', () => {
    expect(verifyWebhook({ ...signed, timestamp: '1700000000.5' })).toEqual({ ok: false, reason: 'webhook-timestamp is not a number of unix seconds' });
  });
});
