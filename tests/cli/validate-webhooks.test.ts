import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { builtBaton } from '../helpers/built-baton.js';

/* webhooks.yaml is checked with the other content files, by `baton validate` as at start. */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SECRET = `whsec_${Buffer.from('validate-webhooks-secret-32byte!').toString('base64')}`;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-validate-webhooks-'));
  await cp(path.join(ROOT, 'templates'), path.join(dir, 'templates'), { recursive: true });
  await mkdir(path.join(dir, 'sequences'));
  await writeFile(
    path.join(dir, 'good.yaml'),
    `endpoints:
  - id: crm
    url: https://crm.example.com/hooks
    events: [lead.*, handoff.converted]
    secret: \${BATON_WEBHOOK_SECRET_CRM}
`,
  );
  await writeFile(
    path.join(dir, 'broken.yaml'),
    `endpoints:
  - id: crm
    url: https://crm.example.com/hooks
    events: [lead.deleted]
    secret: \${BATON_WEBHOOK_SECRET_CRM}
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const validate = async (file: string, env: Record<string, string> = {}) =>
  run(
    process.execPath,
    [
      ...(await builtBaton('cli')),
      'validate',
      '--templates',
      path.join(dir, 'templates'),
      '--webhooks',
      path.join(dir, file),
      '--json',
      // No scoring file beside this sequences directory: only templates and webhooks.yaml are checked.
    ],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BATON_DATA_DIR: dir, BATON_SEQUENCES_DIR: path.join(dir, 'sequences'), ...env },
    },
  ).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );

describe('baton validate --webhooks', () => {
  it('passes a good file once its secret variable is set', async () => {
    const result = await validate('good.yaml', { BATON_WEBHOOK_SECRET_CRM: SECRET });
    expect(result.code).toBe(0);
  }, 60_000);

  it('names the file, line and field of each problem, and exits 1', async () => {
    const broken = await validate('broken.yaml', { BATON_WEBHOOK_SECRET_CRM: SECRET });
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout).problems).toEqual([
      expect.stringMatching(/broken\.yaml:4 endpoints\[0\]\.events\[0\]: "lead\.deleted" is not an event; expected one of: \*, lead\.\*/),
    ]);

    const unset = await validate('good.yaml');
    expect(unset.code).toBe(1);
    expect(JSON.parse(unset.stdout).problems).toEqual([expect.stringMatching(/good\.yaml:5 endpoints\[0\]\.secret: BATON_WEBHOOK_SECRET_CRM is not set/)]);

    const missing = await validate('absent.yaml');
    expect(JSON.parse(missing.stdout).problems).toEqual([expect.stringMatching(/absent\.yaml the webhooks file does not exist/)]);
  }, 60_000);
});
