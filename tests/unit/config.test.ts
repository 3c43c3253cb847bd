import path from 'node:path';
import { ConfigError, loadConfig, redactConfig } from '../../src/platform/config.js';

function problemsOf(environment: Record<string, string>): string[] {
  try {
    loadConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('runs with an empty environment: embedded database, generated secrets, port 3000', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      role: 'all',
      port: 3000,
      publicUrl: 'http://localhost:3000',
      databaseUrl: null,
      dataDir: path.resolve('.baton'),
      apiKey: null,
      secret: null,
      smtpUrl: null,
    });
  });

  it('reads every variable it knows', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/baton',
      BATON_DATA_DIR: '/var/lib/baton',
      BATON_API_KEY: 'k'.repeat(32),
      BATON_PUBLIC_URL: 'https://baton.example.com/',
      SMTP_URL: 'smtp://mail.example.com:587',
      BATON_SECRET: 's'.repeat(40),
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u:p@db:5432/baton',
      dataDir: '/var/lib/baton',
      publicUrl: 'https://baton.example.com',
      smtpUrl: 'smtp://mail.example.com:587',
    });
  });

  it('lists every problem at once, each naming its variable', () => {
    expect(problemsOf({ PORT: 'eighty', DATABASE_URL: 'mysql://x', BATON_API_KEY: 'short', BATON_PUBLIC_URL: 'ftp://x', LOG_LEVEL: 'loud' })).toEqual([
      'PORT must be a number',
      'BATON_PUBLIC_URL must be a valid uri with a scheme matching the http|https pattern',
      'DATABASE_URL must be a valid uri with a scheme matching the postgres|postgresql pattern',
      'BATON_API_KEY length must be at least 24 characters long',
      'LOG_LEVEL must be one of [fatal, error, warn, info, debug, trace, silent]',
    ]);
  });

  it('requires the API key, the secret, a real postal address, an https public URL and a mail server in production', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
      'BATON_PUBLIC_URL is required',
      'BATON_API_KEY is required',
      'BATON_SECRET is required',
      'SMTP_URL is required in production: without it every email, rep notifications included, would go to the embedded development sink and never leave the machine',
      'BATON_MAIL_FROM is required in production: the From address of your emails, at a domain whose SPF, DKIM and DMARC you control (npx baton doctor checks them)',
      'BATON_POSTAL_ADDRESS is required',
    ]);
    const production = {
      NODE_ENV: 'production',
      BATON_API_KEY: 'k'.repeat(30),
      BATON_SECRET: 's'.repeat(40),
      BATON_POSTAL_ADDRESS: 'Acme, 2 Rue Neuve, 75001 Paris',
      SMTP_URL: 'smtp://mail.acme.example:587',
      BATON_MAIL_FROM: 'Acme <hello@acme.example>',
    };
    expect(problemsOf({ ...production, BATON_PUBLIC_URL: 'https://baton.acme.example' })).toEqual([]);
    expect(problemsOf({ ...production, BATON_PUBLIC_URL: 'http://baton.acme.example' })).toEqual([
      'BATON_PUBLIC_URL must be a valid uri with a scheme matching the https pattern',
    ]);
  });

  it('takes DKIM settings together or not at all', () => {
    expect(problemsOf({ DKIM_DOMAIN: 'example.com' })).toEqual([
      'DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY go together: [DKIM_DOMAIN] set without [DKIM_SELECTOR, DKIM_PRIVATE_KEY]',
    ]);
  });

  it('requires a database server for separate api and worker processes', () => {
    expect(problemsOf({ BATON_ROLE: 'worker' })).toEqual([
      'DATABASE_URL is required when BATON_ROLE is api or worker: the embedded database cannot be shared between processes',
    ]);
    expect(problemsOf({ BATON_ROLE: 'api', DATABASE_URL: 'postgres://localhost/baton' })).toEqual([]);
  });

  it('reads the frequency cap and refuses a malformed one', () => {
    expect(loadConfig({}).frequencyCap).toBeNull();
    expect(loadConfig({ BATON_FREQUENCY_CAP: '2/3d' }).frequencyCap).toEqual({ count: 2, windowMs: 3 * 86_400_000 });
    expect(() => loadConfig({ BATON_FREQUENCY_CAP: 'once a day' })).toThrow(/BATON_FREQUENCY_CAP must be off or COUNT\/DURATION/);
  });

  it('collects webhook secrets by name and refuses one that is not whsec_ base64', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const config = loadConfig({ BATON_WEBHOOK_SECRET: secret, BATON_WEBHOOK_SECRET_CRM: secret, BATON_WEBHOOK_ALLOW_PRIVATE: 'true' });
    expect(config.webhooks).toEqual({ secrets: { '': secret, crm: secret }, handoff: [], allowPrivate: true });
    expect(loadConfig({}).webhooks).toEqual({ secrets: {}, handoff: [], allowPrivate: false });
    expect(() => loadConfig({ BATON_WEBHOOK_SECRET_CRM: 'hunter2' })).toThrow(/BATON_WEBHOOK_SECRET_CRM must be whsec_/);
    expect(redactConfig(config).webhooks).toBe('[redacted]');
  });

  it('reads handoff webhooks, Slack ones by their prefix, and names a bad entry', () => {
    const config = loadConfig({ BATON_HANDOFF_WEBHOOKS: 'https://crm.example.com/hooks/baton, slack:https://hooks.slack.com/services/T/B/X' });
    expect(config.webhooks.handoff).toEqual([
      { url: 'https://crm.example.com/hooks/baton', format: 'standard' },
      { url: 'https://hooks.slack.com/services/T/B/X', format: 'slack' },
    ]);
    const production = {
      NODE_ENV: 'production',
      BATON_API_KEY: 'k'.repeat(32),
      BATON_SECRET: 's'.repeat(40),
      BATON_POSTAL_ADDRESS: '2 Real Road',
      BATON_PUBLIC_URL: 'https://baton.example.com',
      SMTP_URL: 'smtp://mail.example.com',
      BATON_MAIL_FROM: 'hello@example.com',
    };
    expect(() => loadConfig({ ...production, BATON_HANDOFF_WEBHOOKS: 'https://ok.example.com,http://crm.example.com/hook' })).toThrow(
      /BATON_HANDOFF_WEBHOOKS must list https URLs in production/,
    );
    expect(loadConfig({ ...production, BATON_HANDOFF_WEBHOOKS: 'https://ok.example.com, slack:https://hooks.slack.com/x' }).webhooks.handoff).toHaveLength(2);
    expect(() => loadConfig({ BATON_HANDOFF_WEBHOOKS: 'https://ok.example.com,ftp://nope' })).toThrow(
      /BATON_HANDOFF_WEBHOOKS: "ftp:\/\/nope" is not an http\(s\) URL/,
    );
    expect(loadConfig({}).scoringFile).toEqual({ path: path.resolve('scoring.yaml'), explicit: false });
    expect(loadConfig({ BATON_SEQUENCES_DIR: '/srv/content/sequences' }).salesTeamFile).toEqual({ path: '/srv/content/sales-team.yaml', explicit: false });
    expect(loadConfig({ BATON_SCORING_FILE: 'x/s.yaml' }).scoringFile).toEqual({ path: expect.stringMatching(/x\/s\.yaml$/) as unknown, explicit: true });
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' })).toMatchObject({ databaseUrl: null, port: 3000 });
  });

  it('redacts secrets for logging', () => {
    const config = loadConfig({ BATON_API_KEY: 'k'.repeat(32), DATABASE_URL: 'postgres://u:secret@db/baton' });
    const redacted = JSON.stringify(redactConfig(config));
    expect(redacted).not.toContain('kkkk');
    expect(redacted).not.toContain('secret@');
  });
});
