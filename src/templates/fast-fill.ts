import Handlebars from 'handlebars';
import { guardHref } from './handlebars-env.js';

/*
 * A faster fill for the Handlebars that email templates use. The Handlebars runtime costs a few
 * microseconds per call, more than filling a 10 KB email needs: set-up per call, a property
 * lookup through its access checks, a helper call per block. The templates use a small subset:
 * paths, Baton's helpers, #if/#unless/#each and the #safeHref guard. That subset is compiled here
 * from Handlebars' own parse tree (so whitespace control and standalone lines are Handlebars'),
 * with its semantics: own properties only (no prototype access), the same escaping, the same
 * truthiness. Anything else (partials, @data, ../ paths, hashes, subexpressions, #with, block
 * params) returns null at compile time, and the caller keeps Handlebars' own template; a value
 * the subset cannot render (#each over an object) falls back to it at run time.
 * tests/templates/fast-fill.test.ts renders every example template both ways and compares.
 */

type Part = string | ((context: unknown) => string);

/** A fill over `context`, like a Handlebars template delegate. */
export type Fill = (context: unknown) => string;

/** Thrown inside a fill for a value only Handlebars renders; the caller renders with Handlebars. */
class NeedsHandlebars extends Error {}

const ownValue = (parent: unknown, name: string): unknown => {
  if (parent === null || parent === undefined) return parent;
  const value = (parent as Record<string, unknown>)[name];
  if (value === null || value === undefined) return value;
  return Object.prototype.hasOwnProperty.call(parent, name) ? value : undefined;
};

/** Helpers with plain arguments: their own implementation, registered on Baton's instance. */
export type FillHelpers = Record<string, (...args: never[]) => unknown>;

/**
 * Compiles `source` to a fill, or returns null when it uses more than the subset. `helpers` are
 * the registered helpers (called as Handlebars calls them, with `this` the context); `noEscape`
 * as in Handlebars' compile options.
 */
export function compileFill(source: string, helpers: FillHelpers, options: { noEscape?: boolean } = {}): Fill | null {
  const emit = options.noEscape
    ? (value: unknown) => (value === null || value === undefined ? '' : String(value))
    : (value: unknown) => Handlebars.Utils.escapeExpression(value as string);
  let program: Part[] | null;
  try {
    program = compileProgram(Handlebars.parse(source).body, helpers, emit);
  } catch (error) {
    if (error instanceof Unsupported) return null;
    throw error;
  }
  return (context) => run(program, context);
}

/** Wraps a fill so that what it cannot render is rendered by Handlebars' own template. */
export function withFallback(fill: Fill | null, template: (context: unknown) => string): (context: unknown) => string {
  if (!fill) return template;
  return (context) => {
    try {
      return fill(context);
    } catch (error) {
      if (error instanceof NeedsHandlebars) return template(context);
      throw error;
    }
  };
}

class Unsupported extends Error {}

/** Handlebars' own helpers: a bare mustache with one of these names is a helper call. */
const BUILT_IN_HELPERS = new Set(['if', 'unless', 'each', 'with', 'lookup', 'log', 'helperMissing', 'blockHelperMissing']);

function run(parts: Part[] | null, context: unknown): string {
  if (!parts) return '';
  let out = '';
  for (const part of parts) out += typeof part === 'string' ? part : part(context);
  return out;
}

type Emit = (value: unknown) => string;
type Value = (context: unknown) => unknown;

function compileProgram(body: hbs.AST.Statement[], helpers: FillHelpers, emit: Emit): Part[] {
  const parts: Part[] = [];
  for (const node of body) {
    const part = compileStatement(node, helpers, emit);
    if (part === '') continue;
    // Adjacent text is joined once, here, not at every fill.
    const last = parts.at(-1);
    if (typeof part === 'string' && typeof last === 'string') parts[parts.length - 1] = last + part;
    else parts.push(part);
  }
  return parts;
}

function compileStatement(node: hbs.AST.Statement, helpers: FillHelpers, emit: Emit): Part {
  switch (node.type) {
    case 'ContentStatement':
      return (node as hbs.AST.ContentStatement).value;
    case 'CommentStatement':
      return '';
    case 'MustacheStatement':
      return compileMustache(node as hbs.AST.MustacheStatement, helpers, emit);
    case 'BlockStatement':
      return compileBlock(node as hbs.AST.BlockStatement, helpers, emit);
    default:
      throw new Unsupported(node.type);
  }
}

function compileMustache(node: hbs.AST.MustacheStatement, helpers: FillHelpers, emit: Emit): Part {
  if (node.hash || node.path.type !== 'PathExpression') throw new Unsupported('mustache');
  const path = node.path as hbs.AST.PathExpression;
  const escape = node.escaped ? emit : (value: unknown) => (value === null || value === undefined ? '' : String(value));
  const helper = helperOf(path, helpers);
  if (helper) {
    // Handlebars passes its options object after the arguments: a helper given fewer arguments
    // than it declares would see that object, which only Handlebars can reproduce.
    if (node.params.length !== helper.length) throw new Unsupported(`${path.original} with ${node.params.length} arguments`);
    const args = node.params.map(compileValue);
    return (context) => escape(helper.call(context, ...args.map((arg) => arg(context))));
  }
  if (node.params.length > 0 || BUILT_IN_HELPERS.has(path.original)) throw new Unsupported(`helper ${path.original}`);
  const value = compilePath(path);
  // A function found on a path is called, as Handlebars' lambda does.
  return (context) => {
    const found = value(context);
    return escape(typeof found === 'function' ? (found as (this: unknown) => unknown).call(context) : found);
  };
}

function compileBlock(node: hbs.AST.BlockStatement, helpers: FillHelpers, emit: Emit): Part {
  const name = node.path.type === 'PathExpression' ? (node.path as hbs.AST.PathExpression).original : '';
  if (node.hash || (node.program.blockParams?.length ?? 0) > 0) throw new Unsupported('block');
  const body = compileProgram(node.program.body, helpers, emit);
  const inverse = node.inverse ? compileProgram(node.inverse.body, helpers, emit) : null;
  if (name === 'safeHref' && node.params.length === 0 && !node.inverse) return (context) => guardHref(run(body, context));
  if (node.params.length !== 1) throw new Unsupported(`#${name}`);
  const [param] = node.params;
  if (!param) throw new Unsupported(`#${name}`);
  const value = compileValue(param);
  const truthy = (context: unknown) => {
    const found = value(context);
    const condition = typeof found === 'function' ? (found as (this: unknown) => unknown).call(context) : found;
    // Handlebars' #if: false for falsy values (0 included) and empty arrays.
    return Boolean(condition) && !(Array.isArray(condition) && condition.length === 0);
  };
  switch (name) {
    case 'if':
      return (context) => (truthy(context) ? run(body, context) : run(inverse, context));
    case 'unless':
      return (context) => (truthy(context) ? run(inverse, context) : run(body, context));
    case 'each':
      return (context) => {
        const found = value(context);
        if (Array.isArray(found)) {
          if (found.length === 0) return run(inverse, context);
          let out = '';
          // Holes in a sparse array are skipped, as Handlebars' #each skips them.
          for (let index = 0; index < found.length; index++) if (index in found) out += run(body, found[index]);
          return out;
        }
        if (found === null || found === undefined || found === false) return run(inverse, context);
        throw new NeedsHandlebars();
      };
    default:
      throw new Unsupported(`#${name}`);
  }
}

function compileValue(node: hbs.AST.Expression): Value {
  switch (node.type) {
    case 'PathExpression':
      return compilePath(node as hbs.AST.PathExpression);
    case 'StringLiteral':
    case 'NumberLiteral':
    case 'BooleanLiteral': {
      const literal = (node as hbs.AST.StringLiteral | hbs.AST.NumberLiteral | hbs.AST.BooleanLiteral).value;
      return () => literal;
    }
    case 'NullLiteral':
      return () => null;
    case 'UndefinedLiteral':
      return () => undefined;
    default:
      throw new Unsupported(node.type);
  }
}

/** A path in the current context (`a.b`, `this`, `this.a`); `../` and `@data` are not in the subset. */
function compilePath(path: hbs.AST.PathExpression): Value {
  if (path.data || path.depth > 0) throw new Unsupported(path.original);
  const parts = [...path.parts];
  if (parts.length === 0) return (context) => context;
  if (parts.length === 1) {
    const [only = ''] = parts;
    return (context) => ownValue(context, only);
  }
  return (context) => {
    let value: unknown = context;
    for (const part of parts) {
      value = ownValue(value, part);
      if (value === null || value === undefined) return value;
    }
    return value;
  };
}

/** The helper a path names: a registered helper, called by its bare name (not `this.name`). */
function helperOf(path: hbs.AST.PathExpression, helpers: FillHelpers): ((...args: unknown[]) => unknown) | null {
  if (path.parts.length !== 1 || /^(this|\.)/.test(path.original)) return null;
  const name = path.parts[0] ?? '';
  return Object.prototype.hasOwnProperty.call(helpers, name) ? (helpers[name] as (...args: unknown[]) => unknown) : null;
}
