import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { signWebhook } from '../../src/webhooks/webhook-signature.js';
import { endStartedProcesses, runCommand } from '../helpers/process-group.js';

/*
 * Receivers copy the verification snippet from docs/webhooks.md, so it is run here, as plain
 * Node outside Jest, against requests that Baton's signer produced and against the example shown
 * in the same document.
 */

const docs = await readFile(new URL('../../docs/webhooks.md', import.meta.url), 'utf8');
// The snippet runs as a process of its own: ended here if a test fails or times out first.
afterEach(endStartedProcesses);

interface Case {
  secret: string;
  headers: Record<string, string>;
  body: string;
  now: number;
}

async function runSnippet(cases: Case[]): Promise<boolean[]> {
  const snippet = /```js\n([\s\S]*?)```/.exec(docs)?.[1];
  if (!snippet) throw new Error('docs/webhooks.md has no js snippet');
  const harness = `${snippet}
const cases = JSON.parse(process.env.CASES);
console.log(JSON.stringify(cases.map((c) => verifyBatonWebhook(c.secret, c.headers, c.body, c.now))));`;
  const { stdout } = await runCommand(process.execPath, ['--input-type=module', '-e', harness], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', CASES: JSON.stringify(cases) },
  });
  return JSON.parse(stdout);
}

function exampleFromDocs(): Case {
  const block = /```http\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
  const [head = '', body = ''] = block.split('\n\n');
  const headers = Object.fromEntries(
    head
      .split('\n')
      .slice(1)
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
  );
  const secret = /`(whsec_[A-Za-z0-9+/=]+)`/.exec(docs)?.[1] ?? '';
  return { secret, headers, body: body.trimEnd(), now: Number(headers['webhook-timestamp']) * 1000 };
}

describe('the verification snippet in docs/webhooks.md', () => {
  it('verifies what Baton signs, and refuses tampered, stale and foreign requests', async () => {
    const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
    const [secret, next, stranger] = [newSecret(), newSecret(), newSecret()];
    const now = 1_740_830_400_000;
    const body = JSON.stringify({ type: 'lead.handed_off', data: { note: 'Zoë' } });
    const signed = (secrets: string[], at = now) => ({
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(at / 1000),
      'webhook-signature': signWebhook({ id: 'msg_1', timestamp: at / 1000, body, secrets }),
    });

    const results = await runSnippet([
      { secret, headers: signed([secret]), body, now },
      { secret, headers: signed([next, secret]), body, now }, // during a rotation
      { secret, headers: signed([secret]), body: body.replace('Zoë', 'Zoe'), now },
      { secret, headers: signed([secret], now - 6 * 60_000), body, now },
      { secret: stranger, headers: signed([secret]), body, now },
      exampleFromDocs(),
    ]);
    expect(results).toEqual([true, true, false, false, false, true]);
  });

  it('shows an example request that Baton itself would sign the same way', () => {
    const { secret, headers, body } = exampleFromDocs();
    const signature = signWebhook({ id: headers['webhook-id'] ?? '', timestamp: Number(headers['webhook-timestamp']), body, secrets: [secret] });
    expect(signature).toBe(headers['webhook-signature']);
    expect(headers['user-agent']).toBe('Baton-Webhooks/1');
  });
});
