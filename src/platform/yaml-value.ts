import { isAlias, parseDocument, visit, type Document, type LineCounter } from 'yaml';

/*
 * The plain value of a parsed YAML document, with aliases bounded. A few lines of nested aliases
 * (billion laughs) expand to gigabytes; the yaml library refuses past `maxAliasCount` by throwing
 * a ReferenceError, which used to end `baton validate` and start-up naming no file and hiding
 * every other problem (issue 16). Here it is a problem like any other, with a line.
 */

/** The yaml library's own default, set explicitly: aliases fit real files well below it. */
export const MAX_YAML_ALIASES = 100;

export type YamlValue = { ok: true; value: unknown } | { ok: false; line: number | null; message: string };

export function yamlValue(document: Document, lineCounter: LineCounter): YamlValue {
  try {
    return { ok: true, value: document.toJS({ maxAliasCount: MAX_YAML_ALIASES }) ?? {} };
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    return {
      ok: false,
      line: firstAliasLine(document, lineCounter),
      message: `YAML: aliases (*name) expand to more than the ${MAX_YAML_ALIASES} nodes allowed; write the values out instead of nesting aliases`,
    };
  }
}

function firstAliasLine(document: Document, lineCounter: LineCounter): number | null {
  let line: number | null = null;
  visit(document, {
    Alias(_key, node) {
      if (!isAlias(node) || !node.range) return undefined;
      line = lineCounter.linePos(node.range[0]).line;
      return visit.BREAK;
    },
  });
  return line;
}

export interface YamlProblem {
  line: number | null;
  message: string;
}

/*
 * The yaml library's errors in a marketer's words: one per line (a tab used to yield four),
 * without the dangling "at line 4, column 12:" (the line is given separately), and on the line
 * that is wrong: an over-indented line is reported by the library on the line above it, as a
 * "multi-line key" there.
 */
export function yamlProblems(errors: readonly YAMLErrorLike[], text: string): YamlProblem[] {
  const tabbed = errors.filter((error) => error.code === 'TAB_AS_INDENT');
  if (tabbed.length > 0) {
    // A tab throws the rest of the file out of shape: the errors after it are echoes. Read the
    // file again with those tabs as spaces; what is still wrong then is wrong on its own.
    const tabLines = new Set(tabbed.map((error) => error.linePos?.[0]?.line));
    const untabbed = text.replace(/^[ \t]*\t[ \t]*/gm, (indent) => indent.replace(/\t/g, '  '));
    const others = parseDocument(untabbed, { uniqueKeys: true }).errors.filter((error) => !tabLines.has(error.linePos?.[0]?.line));
    errors = [...tabbed, ...others];
  }
  const lines = text.split(/\r?\n/);
  const seen = new Set<number | null>();
  const problems: YamlProblem[] = [];
  for (const error of errors) {
    let line = error.linePos?.[0]?.line ?? null;
    let message = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    switch (error.code) {
      case 'TAB_AS_INDENT':
        message = 'a tab indents this line; YAML indents with spaces only';
        break;
      case 'DUPLICATE_KEY':
        message = 'this key appears twice in the same block; keep one';
        break;
      case 'BLOCK_AS_IMPLICIT_KEY':
      case 'MULTILINE_IMPLICIT_KEY': {
        const next = line === null ? null : nextContentLine(lines, line);
        if (line !== null && next !== null && indentOf(lines[next - 1] ?? '') > indentOf(lines[line - 1] ?? '')) {
          line = next;
          message = 'this line is indented further than the line above, so YAML reads it as part of that line; align it with the other keys of its block';
        } else {
          message = 'a line holds two "key:" parts; put the inner mapping on lines of its own, or quote a value that contains ": "';
        }
        break;
      }
      default:
        break;
    }
    if (seen.has(line)) continue;
    seen.add(line);
    problems.push({ line, message: `YAML: ${message}` });
  }
  return problems;
}

/** The part of the yaml library's YAMLError that is read here. */
export interface YAMLErrorLike {
  code: string;
  message: string;
  linePos?: [{ line: number; col: number }] | [{ line: number; col: number }, { line: number; col: number }];
}

function nextContentLine(lines: readonly string[], line: number): number | null {
  for (let index = line; index < lines.length; index++) if ((lines[index] ?? '').trim() !== '') return index + 1;
  return null;
}

function indentOf(text: string): number {
  return text.length - text.trimStart().length;
}
