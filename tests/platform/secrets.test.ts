import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/platform/config.js';
import { embeddedDatabasePassword, resolveSecrets } from '../../src/platform/secrets.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'baton-secrets-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('resolveSecrets', () => {
  it('generates missing secrets once in development and reuses them after a restart', async () => {
    const config = loadConfig({ BATON_DATA_DIR: dataDir });
    const first = await resolveSecrets(config);
    expect(first.generated).toEqual(['BATON_API_KEY', 'BATON_SECRET', 'BATON_SITE_KEY']);
    expect(first.apiKey).toMatch(/^baton_[\w-]{32}$/);
    expect(first.siteKey).toMatch(/^site_[\w-]{16}$/);
    expect(first.secret.length).toBeGreaterThanOrEqual(40);
    expect((await stat(path.join(dataDir, 'secrets.json'))).mode & 0o777).toBe(0o600);

    const second = await resolveSecrets(config);
    expect(second).toMatchObject({ apiKey: first.apiKey, secret: first.secret, siteKey: first.siteKey, generated: [] });
  });

  it('uses configured values and stores only what it had to generate', async () => {
    const config = loadConfig({ BATON_DATA_DIR: dataDir, BATON_API_KEY: 'k'.repeat(30) });
    const resolved = await resolveSecrets(config);
    expect(resolved.apiKey).toBe('k'.repeat(30));
    expect(resolved.generated).toEqual(['BATON_SECRET', 'BATON_SITE_KEY']);
    const stored = JSON.parse(await readFile(path.join(dataDir, 'secrets.json'), 'utf8'));
    expect(stored.apiKey).not.toBe('k'.repeat(30));
  });

  it('generates the embedded database password once, and keeps it when other secrets are generated', async () => {
    const password = await embeddedDatabasePassword(dataDir);
    expect(password).toMatch(/^[\w-]{32}$/);
    await resolveSecrets(loadConfig({ BATON_DATA_DIR: dataDir }));
    expect(await embeddedDatabasePassword(dataDir)).toBe(password);
    expect(JSON.parse(await readFile(path.join(dataDir, 'secrets.json'), 'utf8'))).toEqual({
      apiKey: expect.any(String),
      secret: expect.any(String),
      siteKey: expect.any(String),
      databasePassword: password,
    });
    expect((await stat(path.join(dataDir, 'secrets.json'))).mode & 0o777).toBe(0o600);
    expect(await embeddedDatabasePassword('memory')).not.toBe(await embeddedDatabasePassword('memory'));
  });

  it('has no site key in production unless BATON_SITE_KEY is set (no snippet), and takes the one given', async () => {
    const base = loadConfig({ BATON_DATA_DIR: dataDir, BATON_API_KEY: 'k'.repeat(30), BATON_SECRET: 's'.repeat(40) });
    expect((await resolveSecrets({ ...base, nodeEnv: 'production' })).siteKey).toBeNull();
    const given = loadConfig({ BATON_DATA_DIR: dataDir, BATON_API_KEY: 'k'.repeat(30), BATON_SECRET: 's'.repeat(40), BATON_SITE_KEY: 'site_pasted_key' });
    expect(await resolveSecrets({ ...given, nodeEnv: 'production' })).toMatchObject({ siteKey: 'site_pasted_key', generated: [] });
  });

  it('never generates in production', async () => {
    const config = {
      ...loadConfig({ BATON_DATA_DIR: dataDir, BATON_API_KEY: 'k'.repeat(30), BATON_SECRET: 's'.repeat(40) }),
      nodeEnv: 'production' as const,
      secret: null,
    };
    await expect(resolveSecrets(config)).rejects.toThrow('required in production');
  });
});
