import { captureConfig, parseRate } from '../../src/capture/capture-config.js';
import { parseCollectMessage } from '../../src/capture/collect-message.js';
import { createRateLimiter } from '../../src/capture/rate-limit.js';
import { createVisitorTokens, VISITOR_TOKEN_LIFETIME_MS, withVisitorToken } from '../../src/capture/visitor-token.js';
import { ConfigError, loadConfig } from '../../src/platform/config.js';

const SITE = 'site_0123456789abcdef';
const VISITOR = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

describe('collect messages', () => {
  it('accepts a page view with UTM parameters and an identify with a name', () => {
    const view = parseCollectMessage({
      site: SITE,
      visitor: VISITOR,
      type: 'page_view',
      properties: { path: '/pricing', title: 'Prix — Müller', utm_source: 'newsletter', referrer: null },
    });
    expect(view).toEqual({
      ok: true,
      message: {
        kind: 'event',
        site: SITE,
        visitor: VISITOR,
        token: null,
        type: 'page_view',
        properties: { path: '/pricing', title: 'Prix — Müller', utm_source: 'newsletter', referrer: null },
      },
    });
    const identify = parseCollectMessage({
      site: SITE,
      visitor: VISITOR,
      identify: { email: ' ada@example.com ', firstName: 'Ada', lastName: '' },
      token: 'x.y',
    });
    expect(identify).toEqual({
      ok: true,
      message: { kind: 'identify', site: SITE, visitor: VISITOR, token: 'x.y', traits: { email: 'ada@example.com', firstName: 'Ada' } },
    });
  });

  it.each([
    ['not an object', [1, 2], 'body must be a JSON object'],
    ['a reserved type', { site: SITE, visitor: VISITOR, type: 'email_clicked' }, 'type email_clicked is recorded by Baton itself'],
    ['the unsubscribed type', { site: SITE, visitor: VISITOR, type: 'unsubscribed' }, 'type unsubscribed is recorded by Baton itself'],
    ['a short visitor id', { site: SITE, visitor: 'abc', type: 'page_view' }, 'visitor must be 16 to 64 letters'],
    ['neither type nor identify', { site: SITE, visitor: VISITOR }, 'type or identify must be given, not both'],
    ['both type and identify', { site: SITE, visitor: VISITOR, type: 'x', identify: { email: 'a@b.co' } }, 'type or identify must be given, not both'],
    ['a nested property', { site: SITE, visitor: VISITOR, type: 'x', properties: { deep: { a: 1 } } }, 'properties.deep must be a string'],
    ['an unknown key', { site: SITE, visitor: VISITOR, type: 'x', leadId: 'abc' }, 'leadId is not allowed'],
    ['tags through identify', { site: SITE, visitor: VISITOR, identify: { email: 'a@b.co', tags: ['vip'] } }, 'identify.tags is not allowed'],
    ['consent through identify', { site: SITE, visitor: VISITOR, identify: { email: 'a@b.co', consent: 'granted' } }, 'identify.consent is not allowed'],
    ['a bad email', { site: SITE, visitor: VISITOR, identify: { email: 'not-an-address' } }, 'identify.email must be an email address'],
    ['no site key', { visitor: VISITOR, type: 'page_view' }, 'site must be the site key of data-site'],
  ])('refuses %s, naming the field', (_case, body, message) => {
    const parsed = parseCollectMessage(body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems.map((problem) => problem.message).join('; ')).toContain(message);
  });
});

describe('visitor tokens', () => {
  const tokens = createVisitorTokens('s'.repeat(40));
  const leadId = '0193f0a2-1b2c-4d5e-8f90-a1b2c3d4e5f6';
  const now = new Date('2026-12-08T10:00:00Z');

  it('verifies its own token until it expires, and nothing forged, altered or signed with another secret', () => {
    const token = tokens.sign(leadId, now);
    expect(tokens.verify(token, now)).toBe(leadId);
    expect(tokens.verify(token, new Date(now.getTime() + VISITOR_TOKEN_LIFETIME_MS - 1000))).toBe(leadId);
    expect(tokens.verify(token, new Date(now.getTime() + VISITOR_TOKEN_LIFETIME_MS + 1000))).toBeNull();
    expect(tokens.verify(createVisitorTokens('t'.repeat(40)).sign(leadId, now), now)).toBeNull();
    const [payload = '', signature = ''] = token.split('.');
    const other = Buffer.from(`0193f0a2-1b2c-4d5e-8f90-a1b2c3d4e5f7.${Buffer.from(payload, 'base64url').toString().split('.')[1]}`).toString('base64url');
    expect(tokens.verify(`${other}.${signature}`, now)).toBeNull();
    expect(tokens.verify('garbage', now)).toBeNull();
    // The address never travels: the token holds the lead id and an expiry only.
    expect(Buffer.from(payload, 'base64url').toString()).toMatch(/^[0-9a-f-]{36}\.\d+$/);
  });

  it.each([
    ['https://www.example.com/pricing', 'https://www.example.com/pricing?baton_vt=T'],
    ['https://www.example.com/p?utm_source=Email%20Q4&x=a+b', 'https://www.example.com/p?utm_source=Email%20Q4&x=a+b&baton_vt=T'],
    ['https://WWW.Example.com:443/a/../b?q=é#Section 2', 'https://WWW.Example.com:443/a/../b?q=é&baton_vt=T#Section 2'],
    ['https://www.example.com/?', 'https://www.example.com/?baton_vt=T'],
    ['https://www.example.com/?a=1&', 'https://www.example.com/?a=1&baton_vt=T'],
    ['https://www.example.com/#/app?route=1', 'https://www.example.com/?baton_vt=T#/app?route=1'],
  ])('appends the token to %s and keeps every other byte', (url, expected) => {
    expect(withVisitorToken(url, 'T')).toBe(expected);
  });
});

describe('rate limits', () => {
  it('admits the rate per key and window, then refuses with the time left', () => {
    const limiter = createRateLimiter(parseRate('3/1m'));
    expect([1, 2, 3, 4].map(() => limiter.admit('v', 0))).toEqual([true, true, true, false]);
    expect(limiter.admit('other', 0)).toBe(true);
    expect(limiter.retryAfterSeconds('v', 20_000)).toBe(40);
    expect(limiter.admit('v', 60_000)).toBe(true);
  });

  it('keeps its memory bounded under a flood of new keys', () => {
    const limiter = createRateLimiter(parseRate('1/1m'), 100);
    for (let i = 0; i < 10_000; i++) limiter.admit(`k${i}`, 0);
    expect(limiter.admit('k9999', 0)).toBe(false);
  });
});

describe('capture configuration', () => {
  it('reads origins, rates, privacy signals and retention with defaults', () => {
    const config = loadConfig({
      BATON_SITE_ORIGINS: 'https://www.example.com/, http://localhost:8080',
      BATON_PRIVACY_SIGNALS: 'gpc,dnt',
      BATON_VISITOR_RETENTION: '12h',
    });
    expect(config.capture).toEqual({
      siteKey: null,
      siteOrigins: ['https://www.example.com', 'http://localhost:8080'],
      visitorRate: { count: 60, windowMs: 60_000 },
      ipRate: { count: 600, windowMs: 60_000 },
      privacySignals: { gpc: true, dnt: true },
      visitorRetentionMs: 12 * 3_600_000,
    });
    expect(captureConfig({}).privacySignals).toEqual({ gpc: true, dnt: false });
  });

  it('names each bad variable', () => {
    let problems: string[] = [];
    try {
      loadConfig({ BATON_SITE_ORIGINS: 'https://www.example.com/blog', BATON_COLLECT_VISITOR_RATE: 'lots', BATON_SITE_KEY: 'has spaces in it' });
    } catch (error) {
      if (error instanceof ConfigError) problems = error.problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('BATON_SITE_ORIGINS: "https://www.example.com/blog" is not an origin'),
        expect.stringContaining('BATON_COLLECT_VISITOR_RATE must be COUNT/DURATION'),
        expect.stringContaining('BATON_SITE_KEY must be 8 to 128 letters'),
      ]),
    );
  });
});
