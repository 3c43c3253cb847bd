import { isAlias, visit, type Document, type LineCounter } from 'yaml';

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
