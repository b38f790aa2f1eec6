import { describe, expect, it } from 'vitest';
import {
  MAX_CONDITIONS,
  MAX_DEPTH,
  compileFilter,
  conditionsOf,
  decideFilter,
  planFilter,
  type CompiledFilter,
  type FilterOutcome,
} from '../../../src/rules/filter.ts';
import { RuleError } from '../../../src/rules/rule-error.ts';
import { MAX_CONDITION_SOURCE } from '../../../src/rules/sandbox.ts';
import type { ConditionJob, JobResult } from '../../../src/rules/sandbox-protocol.ts';

const expr = (query = '$.order.status', condition = '(s) => s === "placed"') => ({ query, condition });

/** The RuleError compileFilter throws for `raw` (fails the test when it does not throw one). */
function ruleError(raw: unknown): RuleError {
  try {
    compileFilter(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(RuleError);
    return err as RuleError;
  }
  throw new Error('compileFilter accepted the filter');
}

/** A connector chain with `levels` filter objects in all (the innermost is an expression). */
function nested(levels: number): unknown {
  let filter: unknown = expr();
  for (let i = 1; i < levels; i++) filter = { logic: 'AND', conditions: [filter] };
  return filter;
}

describe('compileFilter: structure', () => {
  it('compiles an expression', () => {
    const f = compileFilter(expr('$.order.status', '(s) => s === "placed"'));
    expect(f).toMatchObject({ kind: 'expression', path: 'filters', queryText: '$.order.status', condition: '(s) => s === "placed"' });
  });

  it('compiles a connector and names every part by its path', () => {
    const f = compileFilter({ logic: 'OR', conditions: [expr(), { logic: 'AND', conditions: [expr(), expr()] }] });
    expect(f.kind).toBe('connector');
    if (f.kind !== 'connector') return;
    expect(f.logic).toBe('OR');
    expect(f.conditions.map((c) => c.path)).toEqual(['filters.conditions[0]', 'filters.conditions[1]']);
    const inner = f.conditions[1]!;
    expect(inner.kind === 'connector' && inner.conditions.map((c) => c.path)).toEqual([
      'filters.conditions[1].conditions[0]',
      'filters.conditions[1].conditions[1]',
    ]);
  });

  it.each([null, 'string', 42, true, [], [expr()]])('rejects a filter that is not an object: %j', (raw) => {
    const err = ruleError(raw);
    expect(err.path).toBe('filters');
    expect(err.message).toMatch(/^filters: must be an object/);
  });

  it('uses the path it is given (e.g. filter_configuration)', () => {
    expect(() => compileFilter(null, 'filter_configuration')).toThrow(/^filter_configuration: /);
  });

  it.each([
    ['missing', { condition: '(x) => x' }],
    ['empty', { query: '', condition: '(x) => x' }],
    ['a number', { query: 5, condition: '(x) => x' }],
    ['missing in an empty object', {}],
  ])('rejects a query that is %s at filters.query', (_label, raw) => {
    expect(ruleError(raw).path).toBe('filters.query');
  });

  it.each([
    ['missing', { query: '$.a' }],
    ['empty', { query: '$.a', condition: '' }],
    ['only white space', { query: '$.a', condition: '   \n\t ' }],
    ['a number', { query: '$.a', condition: 17 }],
  ])('rejects a condition that is %s at filters.condition', (_label, raw) => {
    const err = ruleError(raw);
    expect(err.path).toBe('filters.condition');
    expect(err.reason).toMatch(/JavaScript function/);
  });

  it(`accepts a condition of exactly ${MAX_CONDITION_SOURCE} characters and rejects one longer`, () => {
    expect(MAX_CONDITION_SOURCE).toBe(4096);
    const fits = '(x) => ' + 'x'.padEnd(MAX_CONDITION_SOURCE - 7, ' ');
    expect(fits).toHaveLength(4096);
    expect(() => compileFilter(expr('$.a', fits))).not.toThrow();
    const err = ruleError(expr('$.a', fits + ' '));
    expect(err.path).toBe('filters.condition');
    expect(err.reason).toBe('is 4097 characters long; the limit is 4096');
  });

  it.each(['XOR', 'NOT', '', 1, null, undefined])('rejects logic %j at filters.logic', (logic) => {
    const err = ruleError({ logic, conditions: [expr()] });
    expect(err.path).toBe('filters.logic');
    expect(err.reason).toBe('must be AND or OR');
  });

  it('a conditions array without logic is a connector missing its logic', () => {
    expect(ruleError({ conditions: [expr()] }).path).toBe('filters.logic');
  });

  it.each([
    ['and', 'AND'],
    ['Or', 'OR'],
    ['aNd', 'AND'],
    ['or', 'OR'],
  ])('accepts logic %j case-insensitively as %s', (logic, expected) => {
    const f = compileFilter({ logic, conditions: [expr()] });
    expect(f.kind === 'connector' && f.logic).toBe(expected);
  });

  it('rejects conditions that are not an array', () => {
    const err = ruleError({ logic: 'AND', conditions: expr() });
    expect(err.path).toBe('filters.conditions');
  });

  it(`accepts 1 to ${MAX_CONDITIONS} conditions and rejects 0 or 6`, () => {
    expect(MAX_CONDITIONS).toBe(5);
    expect(() => compileFilter({ logic: 'AND', conditions: [expr()] })).not.toThrow();
    expect(() => compileFilter({ logic: 'AND', conditions: Array.from({ length: 5 }, () => expr()) })).not.toThrow();
    const empty = ruleError({ logic: 'AND', conditions: [] });
    expect(empty.path).toBe('filters.conditions');
    expect(empty.reason).toBe('must hold 1 to 5 filters, not 0');
    const six = ruleError({ logic: 'OR', conditions: Array.from({ length: 6 }, () => expr()) });
    expect(six.path).toBe('filters.conditions');
    expect(six.reason).toBe('must hold 1 to 5 filters, not 6');
  });

  it(`accepts nesting exactly ${MAX_DEPTH} deep and rejects ${MAX_DEPTH + 1}`, () => {
    expect(MAX_DEPTH).toBe(5);
    expect(() => compileFilter(nested(5))).not.toThrow();
    const err = ruleError(nested(6));
    expect(err.path).toBe('filters' + '.conditions[0]'.repeat(5));
    expect(err.reason).toMatch(/nested at most 5 deep/);
  });

  it('rejects a bad JSONPath naming the condition it belongs to', () => {
    const err = ruleError({ logic: 'AND', conditions: [expr(), expr('$.order[', '(x) => x')] });
    expect(err.path).toBe('filters.conditions[1].query');
    expect(err.reason).toMatch(/^invalid JSONPath "\$\.order\[": /);
    expect(err.message).toMatch(/^filters\.conditions\[1\]\.query: invalid JSONPath/);
  });

  it('names the first fault in order, deep inside nested connectors', () => {
    const raw = { logic: 'or', conditions: [expr(), { logic: 'and', conditions: [expr(), { query: '$.x' }] }, expr('bad')] };
    expect(ruleError(raw).path).toBe('filters.conditions[1].conditions[1].condition');
  });
});

describe('conditionsOf', () => {
  it('lists every condition source with its path, in evaluation order', () => {
    const f = compileFilter({
      logic: 'AND',
      conditions: [expr('$.a', 'c0'), { logic: 'OR', conditions: [expr('$.b', 'c10'), expr('$.c', 'c11')] }, expr('$.d', 'c2')],
    });
    expect(conditionsOf(f)).toEqual([
      { path: 'filters.conditions[0].condition', source: 'c0' },
      { path: 'filters.conditions[1].conditions[0].condition', source: 'c10' },
      { path: 'filters.conditions[1].conditions[1].condition', source: 'c11' },
      { path: 'filters.conditions[2].condition', source: 'c2' },
    ]);
  });

  it('a lone expression has one condition at filters.condition', () => {
    expect(conditionsOf(compileFilter(expr('$.a', '(x) => x')))).toEqual([{ path: 'filters.condition', source: '(x) => x' }]);
  });
});

// Results by hand: T and F are successful condition results, E is a failed one.
const T: JobResult = { ok: true, result: true };
const F: JobResult = { ok: true, result: false };
const E: JobResult = { ok: false, error: 'ReferenceError: boom is not defined' };

/** Compiles `raw`, plans it against `payload` and decides it with `results` (one per condition, in order). */
function decide(raw: unknown, results: JobResult[], payload: unknown = {}): FilterOutcome {
  const jobs: ConditionJob[] = [];
  const plan = planFilter(compileFilter(raw), payload, jobs);
  expect(jobs).toHaveLength(results.length);
  return decideFilter(plan, results);
}

const leaf = (name: string) => expr(`$.${name}`, `(v) => v /* ${name} */`);
const and = (...conditions: unknown[]) => ({ logic: 'AND', conditions });
const or = (...conditions: unknown[]) => ({ logic: 'OR', conditions });

describe('planFilter', () => {
  it('lists one job per condition with the selected value, appending to a shared job list', () => {
    const jobs: ConditionJob[] = [{ source: 'earlier', value: 0 }];
    const payload = { order: { status: 'placed', items: [{ sku: 'a' }, { sku: 'b' }] } };
    const filter = compileFilter(and(expr('$.order.status', 'c1'), expr('$.order.items[*].sku', 'c2'), expr('$.order.missing', 'c3')));
    const plan = planFilter(filter, payload, jobs);
    expect(plan.jobIndexes).toEqual([1, 2, 3]);
    expect(plan.error).toBeUndefined();
    expect(jobs.slice(1)).toEqual([
      { source: 'c1', value: 'placed' },
      { source: 'c2', value: ['a', 'b'] },
      { source: 'c3', value: undefined },
    ]);
  });

  it('plans conditions in short-circuit order even for branches that will be skipped', () => {
    const jobs: ConditionJob[] = [];
    planFilter(compileFilter(or(leaf('a'), and(leaf('b'), leaf('c')), leaf('d'))), { a: 1, b: 2, c: 3, d: 4 }, jobs);
    expect(jobs.map((j) => j.value)).toEqual([1, 2, 3, 4]);
  });

  it('two plans over one job list read their own results', () => {
    const jobs: ConditionJob[] = [];
    const p1 = planFilter(compileFilter(leaf('a')), { a: 1 }, jobs);
    const p2 = planFilter(compileFilter(and(leaf('a'), leaf('b'))), { a: 2, b: 3 }, jobs);
    expect(p1.jobIndexes).toEqual([0]);
    expect(p2.jobIndexes).toEqual([1, 2]);
    const results = [F, T, T];
    expect(decideFilter(p1, results)).toEqual({ ok: true, pass: false });
    expect(decideFilter(p2, results)).toEqual({ ok: true, pass: true });
  });
});

describe('decideFilter', () => {
  it('a lone expression passes exactly when its condition is true', () => {
    expect(decide(leaf('a'), [T])).toEqual({ ok: true, pass: true });
    expect(decide(leaf('a'), [F])).toEqual({ ok: true, pass: false });
  });

  it.each<[JobResult, JobResult, boolean]>([
    [T, T, true],
    [T, F, false],
    [F, T, false],
    [F, F, false],
  ])('AND(%j, %j) is %s', (a, b, expected) => {
    expect(decide(and(leaf('a'), leaf('b')), [a, b])).toEqual({ ok: true, pass: expected });
  });

  it.each<[JobResult, JobResult, boolean]>([
    [T, T, true],
    [T, F, true],
    [F, T, true],
    [F, F, false],
  ])('OR(%j, %j) is %s', (a, b, expected) => {
    expect(decide(or(leaf('a'), leaf('b')), [a, b])).toEqual({ ok: true, pass: expected });
  });

  it('a connector of one condition is that condition', () => {
    expect(decide(and(leaf('a')), [T])).toEqual({ ok: true, pass: true });
    expect(decide(or(leaf('a')), [F])).toEqual({ ok: true, pass: false });
  });

  it('AND and OR over five conditions', () => {
    const five = ['a', 'b', 'c', 'd', 'e'].map(leaf);
    expect(decide(and(...five), [T, T, T, T, T])).toEqual({ ok: true, pass: true });
    expect(decide(and(...five), [T, T, T, T, F])).toEqual({ ok: true, pass: false });
    expect(decide(or(...five), [F, F, F, F, F])).toEqual({ ok: true, pass: false });
    expect(decide(or(...five), [F, F, F, F, T])).toEqual({ ok: true, pass: true });
  });

  it('OR(true, error) passes: the failed condition is never reached', () => {
    expect(decide(or(leaf('a'), leaf('b')), [T, E])).toEqual({ ok: true, pass: true });
  });

  it('AND(false, error) is false: the failed condition is never reached', () => {
    expect(decide(and(leaf('a'), leaf('b')), [F, E])).toEqual({ ok: true, pass: false });
  });

  it('AND(true, error) is an error naming filters.conditions[1].condition and its query', () => {
    const outcome = decide(and(leaf('a'), leaf('b')), [T, E]);
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toBe('filters.conditions[1].condition (query $.b): ReferenceError: boom is not defined');
  });

  it('OR(false, error) is an error; OR(error, true) is an error too (left to right)', () => {
    const a = decide(or(leaf('a'), leaf('b')), [F, E]);
    expect(!a.ok && a.error).toMatch(/^filters\.conditions\[1\]\.condition /);
    const b = decide(or(leaf('a'), leaf('b')), [E, T]);
    expect(!b.ok && b.error).toMatch(/^filters\.conditions\[0\]\.condition /);
  });

  it('an error in a lone expression is reported at filters.condition', () => {
    const outcome = decide(leaf('a'), [E]);
    expect(!outcome.ok && outcome.error).toBe('filters.condition (query $.a): ReferenceError: boom is not defined');
  });

  it('the first error reached wins when several fail', () => {
    const outcome = decide(and(leaf('a'), leaf('b'), leaf('c')), [T, { ok: false, error: 'first' }, { ok: false, error: 'second' }]);
    expect(!outcome.ok && outcome.error).toBe('filters.conditions[1].condition (query $.b): first');
  });

  describe('nested connectors', () => {
    // OR( AND(a, b), AND(c, OR(d, e)) )
    const tree = or(and(leaf('a'), leaf('b')), and(leaf('c'), or(leaf('d'), leaf('e'))));

    it.each<[string, JobResult[], FilterOutcome]>([
      ['first AND true', [T, T, F, F, F], { ok: true, pass: true }],
      ['second AND true through d', [T, F, T, T, F], { ok: true, pass: true }],
      ['second AND true through e', [F, T, T, F, T], { ok: true, pass: true }],
      ['both ANDs false', [F, T, T, F, F], { ok: true, pass: false }],
      ['c false', [T, F, F, T, T], { ok: true, pass: false }],
      // errors in branches that are not reached
      ['first AND true, the rest fails', [T, T, E, E, E], { ok: true, pass: true }],
      ['a false skips b', [F, E, T, T, E], { ok: true, pass: true }],
      ['c false skips d and e', [F, E, F, E, E], { ok: true, pass: false }],
    ])('%s', (_name, results, expected) => {
      expect(decide(tree, results)).toEqual(expected);
    });

    it('an error reached deep inside names its full path', () => {
      const outcome = decide(tree, [F, E, T, F, E]);
      expect(!outcome.ok && outcome.error).toBe('filters.conditions[1].conditions[1].conditions[1].condition (query $.e): ReferenceError: boom is not defined');
    });

    it('results after a skipped nested branch are read from the right place', () => {
      // AND( OR(a, b), c ): a true skips b, then c must read the third result, not the second.
      const t = and(or(leaf('a'), leaf('b')), leaf('c'));
      expect(decide(t, [T, T, F])).toEqual({ ok: true, pass: false });
      expect(decide(t, [T, F, T])).toEqual({ ok: true, pass: true });
      expect(decide(t, [T, E, T])).toEqual({ ok: true, pass: true });
    });

    it('five levels deep', () => {
      expect(decide(nested(5), [T])).toEqual({ ok: true, pass: true });
      expect(decide(nested(5), [F])).toEqual({ ok: true, pass: false });
      const outcome = decide(nested(5), [E]);
      expect(!outcome.ok && outcome.error).toMatch(/^filters(\.conditions\[0\]){4}\.condition /);
    });
  });

  it('a plan that failed while selecting is an error whatever the results', () => {
    const filter: CompiledFilter = compileFilter(leaf('a'));
    expect(decideFilter({ filter, jobIndexes: [], error: 'filters: the query failed: x' }, [T])).toEqual({
      ok: false,
      error: 'filters: the query failed: x',
    });
  });
});
