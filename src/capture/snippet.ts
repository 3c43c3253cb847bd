import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/*
 * The snippet's bytes, built once at start: the browser source with this installation's settings
 * filled in, its gzip, and an ETag over the result, so a changed setting is a new ETag.
 */

// Kept in src/ (tsc copies no .js): read from there by dist/capture/ as by src/capture/.
const SOURCE = fileURLToPath(new URL('../../src/capture/browser/baton.js', import.meta.url));

export interface Snippet {
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

export function buildSnippet(settings: { gpc: boolean; dnt: boolean }): Snippet {
  const source = readFileSync(SOURCE, 'utf8');
  if (!source.includes("'__BATON_SETTINGS__'")) throw new Error(`${SOURCE} lost its settings placeholder`);
  const body = Buffer.from(source.replace("'__BATON_SETTINGS__'", JSON.stringify({ gpc: settings.gpc, dnt: settings.dnt })));
  return { body, gzipped: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}
