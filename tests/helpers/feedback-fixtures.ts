import { readFileSync } from 'node:fs';
import path from 'node:path';

const DIR = path.resolve('tests/fixtures/feedback');

/** A fixture message with its placeholders filled (tests/fixtures/feedback/README.md). */
export function feedbackFixture(name: string, values: { verp?: string; messageId?: string } = {}): string {
  return readFileSync(path.join(DIR, name), 'utf8')
    .replaceAll('{{VERP}}', values.verp ?? 'bounce+unknown@bounces.acme.example')
    .replaceAll('{{MESSAGE_ID}}', values.messageId ?? '<unknown@baton.test>')
    .replace(/\r?\n/g, '\r\n');
}
