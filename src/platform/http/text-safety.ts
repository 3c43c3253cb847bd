/*
 * Checks that JSON-ish input can be stored: PostgreSQL text and jsonb refuse the NUL character
 * and unpaired UTF-16 surrogates, and a deeply nested value would overflow the validator's
 * recursion. Found here, they are a 400 naming the field instead of a 500 from the database.
 */

export const MAX_DEPTH = 32;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface TextProblem {
  path: Array<string | number>;
  message: string;
}

export function findUnstorableText(value: unknown, path: Array<string | number> = [], depth = 0): TextProblem | null {
  if (typeof value === 'string') return textProblem(value, path);
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= MAX_DEPTH) return { path, message: `is nested deeper than ${MAX_DEPTH} levels` };
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const problem = findUnstorableText(item, [...path, index], depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const keyProblem = textProblem(key, [...path, key]);
    if (keyProblem) return { ...keyProblem, message: `has a key that ${keyProblem.message}` };
    const problem = findUnstorableText(item, [...path, key], depth + 1);
    if (problem) return problem;
  }
  return null;
}

export function textProblem(text: string, path: Array<string | number>): TextProblem | null {
  if (text.includes('\u0000')) return { path, message: 'contains a NUL character' };
  if (LONE_SURROGATE.test(text)) return { path, message: 'contains an unpaired UTF-16 surrogate (invalid Unicode)' };
  return null;
}
