import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/* `npm run demo` as a newcomer runs it, with a few leads, stopping once they have played their part. */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('npm run demo', () => {
  it('seeds leads whose engagement produces handoffs within a minute', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', DEMO_LEADS: '3', DEMO_EXIT_WHEN_DONE: '1' },
      timeout: 90_000,
    });
    expect(stdout).toMatch(/Baton demo at http:\/\/\S+\/dashboard/);
    expect(stdout).toContain('3 leads created');
    // Lead 0 of every three asks for a demo: one handoff, and its nurture ends converted, not exited.
    expect(stdout).toMatch(/engagement played: 1 handoffs to sales/);
    expect(stdout).toMatch(/demo-nurture: 1 converted, 0 exited, /);
  }, 120_000);
});
