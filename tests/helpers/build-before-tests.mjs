// Jest's globalSetup: builds dist/ (only if src/ changed) once, before any test file runs, so that
// no test's own timeout pays for a tsc run (tests/helpers/built-baton.ts starts processes from it).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function buildBeforeTests() {
  const script = fileURLToPath(new URL('../../scripts/build-if-changed.mjs', import.meta.url));
  const build = spawnSync(process.execPath, [script, '--quiet'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error(`building dist/ before the tests failed (exit ${build.status})`);
}
