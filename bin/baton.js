#!/usr/bin/env node
// `npx baton …` from a checkout. The CLI runs from dist/ (what `npm start` and `npm run baton`
// build); on a fresh checkout that has not been built yet, build it first.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(new URL('../dist/cli.js', import.meta.url))) execSync('npm run build --silent', { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
await import('../dist/cli.js');
