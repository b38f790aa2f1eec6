// Filters (API.md § Filters): a JSONPath query and a JavaScript condition, or AND/OR over up to 5 filters,
// nested at most 5 deep. Compiling checks the structure and the JSONPath; the conditions run in the sandbox.
import type { JSONPathQuery } from 'json-p3';
import { compileQuery, describeQueryError, selectValue } from './jsonpath.ts';
import { RuleError } from './rule-error.ts';
import { MAX_CONDITION_SOURCE } from './sandbox.ts';
import type { ConditionJob, JobResult } from './sandbox-protocol.ts';

export const MAX_CONDITIONS = 5;
export const MAX_DEPTH = 5;

export type CompiledFilter =
  | { kind: 'expression'; path: string; query: JSONPathQuery; queryText: string; condition: string }
  | { kind: 'connector'; path: string; logic: 'AND' | 'OR'; conditions: CompiledFilter[] };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the shape and compiles the queries; throws RuleError naming the part at fault. */
export function compileFilter(raw: unknown, path = 'filters', depth = 1): CompiledFilter {
  if (!isObject(raw)) throw new RuleError(path, 'must be an object with query and condition, or logic and conditions');
  if (depth > MAX_DEPTH) throw new RuleError(path, `filters may be nested at most ${MAX_DEPTH} deep`);
  if ('logic' in raw || 'conditions' in raw) {
    const logic = typeof raw.logic === 'string' ? raw.logic.toUpperCase() : undefined;
    if (logic !== 'AND' && logic !== 'OR') throw new RuleError(`${path}.logic`, 'must be AND or OR');
    if (!Array.isArray(raw.conditions)) throw new RuleError(`${path}.conditions`, 'must be an array of filters');
    if (raw.conditions.length < 1 || raw.conditions.length > MAX_CONDITIONS) {
      throw new RuleError(`${path}.conditions`, `must hold 1 to ${MAX_CONDITIONS} filters, not ${raw.conditions.length}`);
    }
    return {
      kind: 'connector',
      path,
      logic,
      conditions: raw.conditions.map((c, i) => compileFilter(c, `${path}.conditions[${i}]`, depth + 1)),
    };
  }
  if (typeof raw.query !== 'string' || raw.query.length === 0) throw new RuleError(`${path}.query`, 'must be a JSONPath string such as $.order.status');
  if (typeof raw.condition !== 'string' || raw.condition.trim().length === 0) {
    throw new RuleError(`${path}.condition`, 'must be the source of a JavaScript function, e.g. "(value) => value > 10"');
  }
  if (raw.condition.length > MAX_CONDITION_SOURCE) {
    throw new RuleError(`${path}.condition`, `is ${raw.condition.length} characters long; the limit is ${MAX_CONDITION_SOURCE}`);
  }
  let query: JSONPathQuery;
  try {
    query = compileQuery(raw.query);
  } catch (err) {
    throw new RuleError(`${path}.query`, `invalid JSONPath ${JSON.stringify(raw.query)}: ${describeQueryError(err)}`);
  }
  return { kind: 'expression', path, query, queryText: raw.query, condition: raw.condition };
}

/** Every condition source in a filter, for a compile check in the sandbox. */
export function conditionsOf(filter: CompiledFilter): { path: string; source: string }[] {
  return filter.kind === 'expression'
    ? [{ path: `${filter.path}.condition`, source: filter.condition }]
    : filter.conditions.flatMap(conditionsOf);
}

/**
 * Evaluation in two steps so that all conditions of a publish go to the sandbox in one batch:
 * `plan` selects the values and lists the jobs; `decide` combines the sandbox's answers.
 */
export interface FilterPlan {
  filter: CompiledFilter;
  /** Index of each expression's job in the shared job list, in the filter's evaluation order. */
  jobIndexes: number[];
  /** Set when a query failed while selecting (rare with compiled queries). */
  error?: string;
}

export function planFilter(filter: CompiledFilter, payload: unknown, jobs: ConditionJob[]): FilterPlan {
  const jobIndexes: number[] = [];
  const visit = (f: CompiledFilter): void => {
    if (f.kind === 'connector') return f.conditions.forEach(visit);
    jobIndexes.push(jobs.length);
    jobs.push({ source: f.condition, value: selectValue(f.query, payload) });
  };
  try {
    visit(filter);
  } catch (err) {
    return { filter, jobIndexes: [], error: `${filter.path}: the query failed: ${describeQueryError(err)}` };
  }
  return { filter, jobIndexes };
}

export type FilterOutcome = { ok: true; pass: boolean } | { ok: false; error: string };

/** Combines results left to right with short-circuit AND/OR: a failure only counts when it is reached. */
export function decideFilter(plan: FilterPlan, results: JobResult[]): FilterOutcome {
  if (plan.error) return { ok: false, error: plan.error };
  let next = 0;
  const walk = (f: CompiledFilter): FilterOutcome => {
    if (f.kind === 'expression') {
      const r = results[plan.jobIndexes[next++]!]!;
      return r.ok ? { ok: true, pass: r.result } : { ok: false, error: `${f.path}.condition (query ${f.queryText}): ${r.error}` };
    }
    let decided: FilterOutcome | undefined;
    for (const c of f.conditions) {
      if (decided) {
        skip(c);
        continue;
      }
      const outcome = walk(c);
      if (!outcome.ok) decided = outcome;
      else if (f.logic === 'AND' ? !outcome.pass : outcome.pass) decided = outcome;
    }
    return decided ?? { ok: true, pass: f.logic === 'AND' };
  };
  const skip = (f: CompiledFilter): void => {
    if (f.kind === 'expression') next++;
    else f.conditions.forEach(skip);
  };
  return walk(plan.filter);
}
