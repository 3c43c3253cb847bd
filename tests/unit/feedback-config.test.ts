import { feedbackConfigProblems } from '../../src/feedback/feedback-runtime.js';
import { ConfigError, loadConfig, redactConfig } from '../../src/platform/config.js';

const problemsOf = (environment: Record<string, string>): string[] => {
  try {
    loadConfig(environment);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
};

describe('feedback configuration', () => {
  it('is off by default: no bounce domain, no listener, no ESP webhook, default policy', () => {
    expect(loadConfig({}).feedback).toEqual({
      bounceDomain: null,
      inbound: null,
      softBounceRetriesMs: [15 * 60_000, 3_600_000, 4 * 3_600_000],
      softBounceLimit: 3,
      domainLimits: new Map(),
      esp: { ses: null, postmarkCredentials: null, sendgridPublicKey: null, mailgunSigningKey: null },
    });
  });

  it('reads every feedback variable', () => {
    const config = loadConfig({
      BATON_BOUNCE_DOMAIN: 'Bounces.Example.com',
      BATON_INBOUND_SMTP_PORT: '2525',
      BATON_INBOUND_MAX_BYTES: '500000',
      BATON_SOFT_BOUNCE_RETRIES: '10m, 2h',
      BATON_SOFT_BOUNCE_LIMIT: '5',
      BATON_DOMAIN_LIMITS: 'gmail.com:20/s',
      BATON_SES_SNS_TOPIC_ARNS: 'arn:aws:sns:eu-west-1:123456789012:ses',
      BATON_POSTMARK_WEBHOOK_AUTH: 'pm:0123456789abcdef',
      BATON_MAILGUN_WEBHOOK_SIGNING_KEY: 'key-0123456789abcdef',
    }).feedback;
    expect(config).toMatchObject({
      bounceDomain: 'bounces.example.com',
      inbound: { host: '127.0.0.1', port: 2525, maxBytes: 500_000 },
      softBounceRetriesMs: [600_000, 7_200_000],
      softBounceLimit: 5,
      esp: {
        ses: { topicArns: ['arn:aws:sns:eu-west-1:123456789012:ses'], certificateFile: null },
        postmarkCredentials: 'pm:0123456789abcdef',
        mailgunSigningKey: 'key-0123456789abcdef',
      },
    });
    expect(config.domainLimits.get('gmail.com')).toEqual({ count: 20, windowMs: 1000 });
  });

  it('names each bad variable', () => {
    expect(
      problemsOf({
        BATON_SOFT_BOUNCE_RETRIES: '15 minutes',
        BATON_DOMAIN_LIMITS: 'gmail.com=20',
        BATON_POSTMARK_WEBHOOK_AUTH: 'short',
        BATON_SES_SNS_TOPIC_ARNS: 'my-topic',
        BATON_BOUNCE_DOMAIN: 'not a domain',
      }),
    ).toEqual([
      'BATON_BOUNCE_DOMAIN must be a valid hostname',
      'BATON_SOFT_BOUNCE_RETRIES must be a comma-separated list of durations, e.g. 15m,1h,4h',
      'BATON_DOMAIN_LIMITS must list DOMAIN:COUNT/s or DOMAIN:COUNT/m, comma-separated, e.g. gmail.com:20/s,yahoo.com:600/m',
      'BATON_SES_SNS_TOPIC_ARNS must list SNS topic ARNs (arn:aws:sns:REGION:ACCOUNT:TOPIC), comma-separated',
      'BATON_POSTMARK_WEBHOOK_AUTH must be user:password (password at least 12 characters), as put in the Postmark webhook URL',
    ]);
  });

  it('refuses a listener without a bounce domain', () => {
    expect(feedbackConfigProblems(loadConfig({ BATON_INBOUND_SMTP_PORT: '2525' }).feedback)).toEqual([
      'BATON_INBOUND_SMTP_PORT is set without BATON_BOUNCE_DOMAIN: the listener accepts mail only for the bounce domain',
    ]);
  });

  it('keeps webhook secrets out of the start-up log', () => {
    expect(redactConfig(loadConfig({ BATON_MAILGUN_WEBHOOK_SIGNING_KEY: 'key-0123456789abcdef' })).feedback).toBe('[redacted]');
  });
});
