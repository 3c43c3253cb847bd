/*
 * Just enough MIME (RFC 2045/2046) to read reports: headers unfolded, the parts of a multipart
 * body, and base64 or quoted-printable bodies decoded. mailparser folds a message/delivery-status
 * part into the text body, losing its fields, hence this. Pure, bounded: a part deeper than
 * MAX_DEPTH or past MAX_PARTS is not looked at, so hostile nesting costs nothing.
 */

export interface MimeEntity {
  /** Lower-cased names, unfolded values; a repeated header keeps its first value. */
  headers: Map<string, string>;
  body: string;
}

const MAX_DEPTH = 4;
const MAX_PARTS = 50;

/** Splits a message (or part) at its first empty line into headers and body. */
export function parseEntity(raw: string): MimeEntity {
  const text = raw.replace(/\r\n/g, '\n');
  const end = text.search(/\n\n/);
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + 2);
  return { headers: parseHeaderBlock(head), body };
}

/** Header lines (or DSN fields, which use the same syntax) with continuation lines unfolded. */
export function parseHeaderBlock(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  const unfolded = block.replace(/\r\n/g, '\n').replace(/\n[ \t]+/g, ' ');
  for (const line of unfolded.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name) || headers.has(name)) continue;
    headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}

/** The media type (lower-cased) and parameters of a Content-Type value. */
export function contentTypeOf(entity: MimeEntity): { type: string; params: Map<string, string> } {
  const value = entity.headers.get('content-type') ?? 'text/plain';
  const [type = 'text/plain', ...rest] = value.split(';');
  const params = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    params.set(
      part.slice(0, eq).trim().toLowerCase(),
      part
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/s, '$1'),
    );
  }
  return { type: type.trim().toLowerCase(), params };
}

/** The body with its Content-Transfer-Encoding undone (as latin1-safe text). */
export function decodedBody(entity: MimeEntity): string {
  const encoding = (entity.headers.get('content-transfer-encoding') ?? '').toLowerCase();
  if (encoding === 'base64') return Buffer.from(entity.body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    return entity.body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return entity.body;
}

/** The direct parts of a multipart entity; [] for anything else or a missing boundary. */
export function partsOf(entity: MimeEntity): MimeEntity[] {
  const { type, params } = contentTypeOf(entity);
  const boundary = params.get('boundary');
  if (!type.startsWith('multipart/') || !boundary || boundary.length > 200) return [];
  const delimiter = `--${boundary}`;
  const parts: MimeEntity[] = [];
  const lines = entity.body.replace(/\r\n/g, '\n').split('\n');
  let current: string[] | null = null;
  for (const line of lines) {
    if (line.startsWith(delimiter)) {
      if (current) parts.push(parseEntity(current.join('\n')));
      if (line.startsWith(`${delimiter}--`) || parts.length >= MAX_PARTS) return parts;
      current = [];
    } else if (current) {
      current.push(line);
    }
  }
  if (current) parts.push(parseEntity(current.join('\n')));
  return parts;
}

/** Every entity of the tree, depth first, the root included, within the bounds above. */
export function allEntities(root: MimeEntity): MimeEntity[] {
  const found: MimeEntity[] = [];
  const walk = (entity: MimeEntity, depth: number) => {
    if (found.length >= MAX_PARTS) return;
    found.push(entity);
    if (depth >= MAX_DEPTH) return;
    for (const part of partsOf(entity)) walk(part, depth + 1);
  };
  walk(root, 0);
  return found;
}
