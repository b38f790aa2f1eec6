// Reducers (API.md § Reducers): a JSON template whose `$…` string leaves are JSONPath queries on the payload.
import type { JSONPathQuery } from 'json-p3';
import { compileQuery, describeQueryError, selectValue } from './jsonpath.ts';
import { RuleError } from './rule-error.ts';

export const MAX_REDUCER_BYTES = 64 * 1024;
export const MAX_REDUCER_DEPTH = 10;

type Template =
  | { kind: 'query'; query: JSONPathQuery }
  | { kind: 'literal'; value: unknown }
  | { kind: 'object'; entries: [string, Template][] }
  | { kind: 'array'; items: Template[] };

export interface CompiledReducer {
  template: Template;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function compileReducer(raw: unknown, path = 'reducer'): CompiledReducer {
  if (!isObject(raw)) throw new RuleError(path, 'must be a JSON object');
  const size = Buffer.byteLength(JSON.stringify(raw));
  if (size > MAX_REDUCER_BYTES) throw new RuleError(path, `is ${size} bytes; the limit is ${MAX_REDUCER_BYTES}`);
  // Depth counts objects and arrays (the reducer itself is level 1); a leaf inside level 10 is still within the limit.
  const walk = (value: unknown, at: string, depth: number): Template => {
    if (depth > MAX_REDUCER_DEPTH && typeof value === 'object' && value !== null) {
      throw new RuleError(at, `nesting is limited to ${MAX_REDUCER_DEPTH} levels`);
    }
    if (typeof value === 'string' && value.startsWith('$')) {
      try {
        return { kind: 'query', query: compileQuery(value) };
      } catch (err) {
        throw new RuleError(at, `invalid JSONPath ${JSON.stringify(value)}: ${describeQueryError(err)}`);
      }
    }
    if (Array.isArray(value)) return { kind: 'array', items: value.map((v, i) => walk(v, `${at}[${i}]`, depth + 1)) };
    if (isObject(value)) {
      return { kind: 'object', entries: Object.entries(value).map(([k, v]) => [k, walk(v, `${at}.${k}`, depth + 1)]) };
    }
    return { kind: 'literal', value };
  };
  return { template: walk(raw, path, 1) };
}

/** The reduced payload. A singular query that matches nothing leaves its key (or array item) out. */
export function applyReducer(reducer: CompiledReducer, payload: unknown): Record<string, unknown> {
  const run = (t: Template): unknown => {
    switch (t.kind) {
      case 'query':
        return selectValue(t.query, payload);
      case 'literal':
        return t.value;
      case 'array':
        return t.items.map(run).filter((v) => v !== undefined);
      case 'object': {
        // No prototype: a "__proto__" key in a reducer is just a key.
        const out: Record<string, unknown> = Object.create(null);
        for (const [key, child] of t.entries) {
          const value = run(child);
          if (value !== undefined) out[key] = value;
        }
        return out;
      }
    }
  };
  return run(reducer.template) as Record<string, unknown>;
}
