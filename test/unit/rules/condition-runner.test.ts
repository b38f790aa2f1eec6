// ConditionRunner forks a real sandbox process (src/rules/sandbox-process.ts through tsx), so these tests are slow-ish.
import { afterAll, describe, expect, it } from 'vitest';
import { ConditionRunner } from '../../../src/rules/condition-runner.ts';
import type { ConditionJob, JobResult } from '../../../src/rules/sandbox-protocol.ts';

const SLOW = 30_000;

/** Ends the sandbox process with a V8 fatal out-of-memory (a holey array turned into a huge packed one). */
const OOM = '(x) => { const a = []; a[5e7] = 1; return a.fill(2).length }';
/** Spends tens of seconds inside one native builtin, where the isolate's own deadline cannot interrupt it. */
const STUCK = '(x) => new Array(5e7).fill(1).length';

const STOPPED = /^the condition was stopped: it exceeded the 16 MiB memory limit or ran past the 50 ms deadline/;

const runner = new ConditionRunner();
afterAll(() => runner.close());

const job = (source: string, value?: unknown): ConditionJob => ({ source, value });

describe('ConditionRunner.evaluate', () => {
  it(
    'evaluates a batch of normal jobs in order',
    async () => {
      const results = await runner.evaluate([
        job('(uid) => uid === 238', 238),
        job('(uid) => uid === 238', 239),
        job("(s) => ['placed', 'confirmed'].includes(s)", 'placed'),
        job('(a) => a.length === 0', []),
        job('(x) => x === undefined', undefined),
        job('(o) => o.a.b === 1', { a: { b: 1 } }),
      ]);
      expect(results).toEqual([
        { ok: true, result: true },
        { ok: true, result: false },
        { ok: true, result: true },
        { ok: true, result: true },
        { ok: true, result: true },
        { ok: true, result: true },
      ]);
    },
    SLOW,
  );

  it('an empty batch gives an empty result', async () => {
    expect(await runner.evaluate([])).toEqual([]);
  });

  it(
    'reports a failing condition in its own slot without disturbing the others',
    async () => {
      const results = await runner.evaluate([
        job('(x) => x > 1', 2),
        job('(x) => x.a.b', {}),
        job('(x) => { while (true) {} }', 0),
        job('async (x) => true', 0),
        job('(x) => { const f = () => f(); return f() }', 0),
        job('42', 0),
        job('(x) => x < 1', 2),
      ]);
      expect(results[0]).toEqual({ ok: true, result: true });
      expect(results[1]).toMatchObject({ ok: false, error: expect.stringMatching(/^TypeError: Cannot read properties of undefined/) });
      expect(results[2]).toEqual({ ok: false, error: 'the condition ran longer than 50 ms' });
      expect(results[3]).toEqual({ ok: false, error: 'TypeError: the condition returned a Promise; conditions must be synchronous' });
      expect(results[4]).toEqual({ ok: false, error: 'the condition recursed too deeply (maximum call stack size exceeded)' });
      expect(results[5]).toEqual({ ok: false, error: 'TypeError: the condition is not a function (got number)' });
      expect(results[6]).toEqual({ ok: true, result: false });
    },
    SLOW,
  );

  it(
    'answers concurrent callers each with their own results',
    async () => {
      const calls = Array.from({ length: 20 }, (_, i) => runner.evaluate([job('(n) => n % 2 === 0', i), job('(n) => n', i)]));
      const all = await Promise.all(calls);
      all.forEach((results, i) => {
        expect(results).toEqual([
          { ok: true, result: i % 2 === 0 },
          { ok: true, result: i !== 0 },
        ]);
      });
    },
    SLOW,
  );

  it(
    'a batch with a V8-OOM condition and a condition stuck in a builtin: only those two fail, and the sandbox recovers',
    async () => {
      const before = runner.sandboxRestarts;
      const results: JobResult[] = await runner.evaluate([
        job('(x) => x === 1', 1),
        job(OOM, 0),
        job('(x) => x > 1', 5),
        job(STUCK, 0),
        job("(s) => s.startsWith('ok')", 'ok!'),
        job('(x) => x', 0),
      ]);
      expect(results[0]).toEqual({ ok: true, result: true });
      expect(results[1]).toMatchObject({ ok: false, error: expect.stringMatching(STOPPED) });
      expect(results[2]).toEqual({ ok: true, result: true });
      expect(results[3]).toMatchObject({ ok: false, error: expect.stringMatching(STOPPED) });
      expect(results[4]).toEqual({ ok: true, result: true });
      expect(results[5]).toEqual({ ok: true, result: false });
      // The batch's process died, then each culprit took down its own process when run alone.
      expect(runner.sandboxRestarts).toBeGreaterThanOrEqual(before + 3);

      expect(await runner.evaluate([job('(x) => x === "after"', 'after'), job('(x) => x === "after"', 'before')])).toEqual([
        { ok: true, result: true },
        { ok: true, result: false },
      ]);
    },
    SLOW,
  );

  it(
    'a lone hostile condition fails with a message and the next batch works',
    async () => {
      const before = runner.sandboxRestarts;
      const [stuck] = await runner.evaluate([job(STUCK, 0)]);
      expect(stuck).toMatchObject({ ok: false, error: expect.stringMatching(STOPPED) });
      const [oom] = await runner.evaluate([job(OOM, 0)]);
      expect(oom).toMatchObject({ ok: false, error: expect.stringMatching(STOPPED) });
      expect(runner.sandboxRestarts).toBe(before + 2);
      expect(await runner.evaluate([job('(x) => x === 3', 3)])).toEqual([{ ok: true, result: true }]);
    },
    SLOW,
  );

  it(
    'the job right after a stuck one in the same batch is not blamed for it',
    async () => {
      const results = await runner.evaluate([job(STUCK, 0), job('(x) => x === 7', 7), job('(x) => x === 8', 8)]);
      expect(results[0]).toMatchObject({ ok: false, error: expect.stringMatching(STOPPED) });
      expect(results.slice(1)).toEqual([
        { ok: true, result: true },
        { ok: true, result: true },
      ]);
    },
    SLOW,
  );
});

describe('ConditionRunner.check', () => {
  it(
    'gives null for a function and a reason for anything else',
    async () => {
      const problems = await runner.check([
        '(x) => x > 1',
        'function (s) { return s === "placed" }',
        '42',
        '(x) =>',
        'x =>> 1',
        '"(x) => true"',
        STUCK, // compiles; check does not run it
      ]);
      expect(problems[0]).toBeNull();
      expect(problems[1]).toBeNull();
      expect(problems[2]).toBe('TypeError: the condition is not a function (got number)');
      expect(problems[3]).toMatch(/^SyntaxError: /);
      expect(problems[4]).toMatch(/^SyntaxError: /);
      expect(problems[5]).toBe('TypeError: the condition is not a function (got string)');
      expect(problems[6]).toBeNull();
    },
    SLOW,
  );

  it('an empty list gives an empty list', async () => {
    expect(await runner.check([])).toEqual([]);
  });

  it(
    'a source that gets stuck while compiling is blamed alone',
    async () => {
      const problems = await runner.check(['(x) => x', '(new Array(5e7).fill(1), (x) => x)', '(x) => !x']);
      expect(problems[0]).toBeNull();
      expect(problems[1]).toMatch(STOPPED);
      expect(problems[2]).toBeNull();
    },
    SLOW,
  );
});

describe('ConditionRunner.close', () => {
  it(
    'after close() evaluate and check answer "the sandbox is shut down"',
    async () => {
      const own = new ConditionRunner();
      expect(await own.evaluate([job('(x) => x', 1)])).toEqual([{ ok: true, result: true }]);
      own.close();
      expect(await own.evaluate([job('(x) => x', 1), job('(x) => !x', 1)])).toEqual([
        { ok: false, error: 'the sandbox is shut down' },
        { ok: false, error: 'the sandbox is shut down' },
      ]);
      expect(await own.check(['(x) => x'])).toEqual(['the sandbox is shut down']);
      expect(own.sandboxRestarts).toBe(0);
    },
    SLOW,
  );

  it('close() before any use is fine', async () => {
    const own = new ConditionRunner();
    own.close();
    expect(await own.evaluate([job('(x) => x', 1)])).toEqual([{ ok: false, error: 'the sandbox is shut down' }]);
  });
});
