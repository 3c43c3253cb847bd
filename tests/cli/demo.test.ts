import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { endStartedProcesses, runCommand } from '../helpers/process-group.js';

/* `npm run demo` as a newcomer runs it, with a few leads, stopping once they have played their part. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// The shipped templates the demo sends, copied alone: a marketer's own templates beside them in
// templates/ (broken or not) are the content check's business, not the demo's.
const DEMO_TEMPLATES = ['welcome', 'pipeline-leaks', 'pipeline-leaks-reminder', 'case-study', 'reengage-check-in', 'reengage-last-call', 'handoff-briefing'];

let templates: string;
beforeAll(async () => {
  templates = await mkdtemp(path.join(os.tmpdir(), 'baton-demo-templates-'));
  for (const entry of ['layouts', 'partials', ...DEMO_TEMPLATES.map((name) => `${name}.mjml`)])
    await cp(path.join(ROOT, 'templates', entry), path.join(templates, entry), { recursive: true });
});
afterEach(endStartedProcesses);
afterAll(async () => {
  await rm(templates, { recursive: true, force: true });
});

describe('npm run demo', () => {
  it('seeds leads whose engagement produces handoffs within a minute, and case studies for those who click', async () => {
    const { stdout } = await runCommand(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', DEMO_LEADS: '3', DEMO_EXIT_WHEN_DONE: '1', BATON_TEMPLATES_DIR: templates },
      timeoutMs: 170_000,
    });
    expect(stdout).toMatch(/Baton demo at http:\/\/\S+\/dashboard/);
    expect(stdout).toContain('3 leads created');
    // Lead 0 of every three asks for a demo: one handoff, and its nurture ends converted, not exited.
    expect(stdout).toMatch(/engagement played: 1 handoffs to sales/);
    // Lead 1 clicked "leaks" and gets the case study; lead 2 only read and gets the reminder.
    expect(stdout).toContain('branch played: 1 case studies to those who clicked "leaks", 1 reminders');
    expect(stdout).toMatch(/demo-nurture: 1 converted, 0 exited, /);
  }, 180_000);
});
