/*
 * Handlebars reports mistakes in its parser's words ("Expecting 'OPEN_INVERSE_CHAIN', 'INVERSE'…",
 * "unknown helper capitalize - 153:10", a position in the compiled HTML). Marketers get the line
 * they wrote and what to do instead.
 */

export interface HandlebarsMistake {
  message: string;
  /** 1-based line within the text that was compiled, when Handlebars says. */
  line: number | null;
}

export function describeHandlebarsError(error: unknown, knownHelpers: readonly string[], text: string): HandlebarsMistake {
  const raw = error instanceof Error ? error.message : String(error);
  const first = raw.split('\n')[0] ?? raw;
  const position = / - (\d+):(\d+)$/.exec(first);
  const withoutPosition = position ? first.slice(0, position.index) : first;
  let line = position ? Number(position[1]) : null;

  const unknownHelper = /unknown helper (\S+)/.exec(withoutPosition);
  if (unknownHelper) {
    const name = unknownHelper[1] ?? '';
    line ??= lineOf(text, new RegExp(`\\{\\{[#~\\s]*${escapeRegExp(name)}\\b`));
    return { message: `{{${name}}}: there is no helper "${name}"; the helpers are ${knownHelpers.join(', ')}`, line };
  }
  const mismatch = /^(\S+) doesn't match (\S+)$/.exec(withoutPosition);
  if (mismatch) return { message: `{{/${mismatch[2]}}} closes {{#${mismatch[1]}}}: close the block with {{/${mismatch[1]}}}`, line };

  const parse = /^Parse error on line (\d+):/.exec(first);
  if (parse) {
    line = Number(parse[1]);
    const expected = raw.split('\n').at(-1) ?? '';
    if (/got 'EOF'/.test(expected) && /OPEN_ENDBLOCK/.test(expected)) {
      // Handlebars notices at the end of the text; the mistake is where the block opens.
      const open = unclosedBlock(text);
      return { message: `{{#${open?.name ?? '…'}}} is never closed: end the block with {{/${open?.name ?? '…'}}}`, line: open?.line ?? line };
    }
    if (/got 'EOF'/.test(expected)) return { message: 'the text ends inside a placeholder: close it with }}', line };
    if (/got 'INVALID'/.test(expected)) return { message: 'a placeholder is not closed, or holds something that is not a name: write {{name}} or {{helper name}}', line };
    const got = /got '([^']+)'/.exec(expected)?.[1];
    return { message: `the placeholder cannot be read${got ? ` (unexpected ${got.toLowerCase().replace(/_/g, ' ')})` : ''}`, line };
  }
  return { message: withoutPosition, line };
}

/** The innermost block left open at the end of `text`. */
function unclosedBlock(text: string): { name: string; line: number } | null {
  const open: Array<{ name: string; index: number }> = [];
  for (const tag of text.matchAll(/\{\{~?\s*([#/])\s*([\w.-]+)/g)) {
    const [, kind, name = ''] = tag;
    if (kind === '#') open.push({ name, index: tag.index });
    else if (open.at(-1)?.name === name) open.pop();
  }
  const last = open.at(-1);
  return last ? { name: last.name, line: text.slice(0, last.index).split('\n').length } : null;
}

function lineOf(text: string, pattern: RegExp): number | null {
  const index = text.search(pattern);
  return index < 0 ? null : text.slice(0, index).split('\n').length;
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
