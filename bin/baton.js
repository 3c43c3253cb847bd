#!/usr/bin/env node
// `npx baton …` from a checkout. The CLI runs from dist/ (what `npm start` and `npm run baton`
// build); when src/ changed since the last build (or nothing was built yet), build it first.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build-if-changed.mjs', import.meta.url)), '--quiet'], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
});
await import('../dist/cli.js');
