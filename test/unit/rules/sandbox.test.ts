// ConditionSandbox in this process (the server runs it in a child process; see condition-runner.test.ts).
// Nothing here may end in a fatal V8 OOM: that would abort the test worker.
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CONDITION_TIMEOUT_MS, ConditionError, ConditionSandbox, MAX_CONDITION_SOURCE } from '../../../src/rules/sandbox.ts';

const sandbox = new ConditionSandbox();
afterAll(() => sandbox.dispose());

/** The ConditionError message of a run that must fail. */
function failure(source: string, value?: unknown): string {
  try {
    sandbox.run(source, value);
  } catch (err) {
    expect(err).toBeInstanceOf(ConditionError);
    return (err as Error).message;
  }
  throw new Error(`the condition ran: ${source}`);
}

describe('ConditionSandbox: results', () => {
  it.each<[string, unknown, boolean]>([
    ['(uid) => uid === 238', 238, true],
    ['(uid) => uid === 238', 239, false],
    ["function (s) { return ['placed', 'confirmed'].includes(s) }", 'confirmed', true],
    ["function (s) { return ['placed', 'confirmed'].includes(s) }", 'cancelled', false],
    ['(o) => o.items.length > 1 && o.total >= 100', { items: [1, 2], total: 100 }, true],
    ['(o) => o.items.length > 1 && o.total >= 100', { items: [1], total: 100 }, false],
    ['function named(x) { return x > 0 }', 1, true],
    ['x => !x', false, true],
  ])('%s on %j is %s', (source, value, expected) => {
    expect(sandbox.run(source, value)).toBe(expected);
  });

  it.each<[unknown, boolean]>([
    [1, true],
    ['a', true],
    [{}, true],
    [[], true],
    [-1, true],
    [0, false],
    ['', false],
    [null, false],
    [undefined, false],
    [Number.NaN, false],
    [false, false],
  ])('reads the returned %j as %s (truthiness)', (value, expected) => {
    expect(sandbox.run('(x) => x', value)).toBe(expected);
  });

  it('reads returned objects, functions and symbols as true', () => {
    expect(sandbox.run('(x) => ({ a: 1 })', 0)).toBe(true);
    expect(sandbox.run('(x) => () => false', 0)).toBe(true);
    expect(sandbox.run('(x) => Symbol("s")', 0)).toBe(true);
    expect(sandbox.run('(x) => 10n', 0)).toBe(true);
    expect(sandbox.run('(x) => 0n', 0)).toBe(false);
  });

  it('gives undefined as undefined, with exactly one argument', () => {
    expect(sandbox.run('(x) => x === undefined', undefined)).toBe(true);
    expect(sandbox.run('function (x) { return arguments.length === 1 && x === undefined }', undefined)).toBe(true);
  });

  it('gives arrays as arrays', () => {
    expect(sandbox.run('(a) => Array.isArray(a) && a.length === 3 && a[2] === "c"', ['a', 'b', 'c'])).toBe(true);
    expect(sandbox.run('(a) => Array.isArray(a) && a.length === 0', [])).toBe(true);
    expect(sandbox.run('(a) => a.some((o) => o.sku === "B-2")', [{ sku: 'A-1' }, { sku: 'B-2' }])).toBe(true);
    expect(sandbox.run('(a) => a.map((n) => n * 2).reduce((s, n) => s + n, 0) === 12', [1, 2, 3])).toBe(true);
  });

  it('gives nested JSON values intact (null, booleans, numbers, strings, unicode)', () => {
    const value = { a: null, b: [true, false], n: -1.5e-7, s: 'héllo ✓ 😀', o: { deep: { deeper: [1, [2, [3]]] } } };
    const check = `(v) => JSON.stringify(v) === ${JSON.stringify(JSON.stringify(value))}`;
    expect(sandbox.run(check, value)).toBe(true);
  });

  it('runs on a copy: changes inside do not reach the caller', () => {
    const value = { a: 1, list: [1, 2], nested: { b: 'x' } };
    expect(sandbox.run('(x) => { x.a = 2; x.list.push(3); x.nested.b = "y"; delete x.nested; return true }', value)).toBe(true);
    expect(value).toEqual({ a: 1, list: [1, 2], nested: { b: 'x' } });
  });

  it('keeps no state from one call to the next through the value', () => {
    const source = '(x) => { x.seen = (x.seen || 0) + 1; return x.seen === 1 }';
    const value = {};
    expect(sandbox.run(source, value)).toBe(true);
    expect(sandbox.run(source, value)).toBe(true);
  });

  it('gives a clear message when a value cannot be copied in', () => {
    expect(failure('(x) => true', () => 1)).toMatch(/could not be copied into the sandbox|could not be cloned/);
  });
});

describe('ConditionSandbox: limits', () => {
  it(`stops an endless loop after ${CONDITION_TIMEOUT_MS} ms`, () => {
    expect(CONDITION_TIMEOUT_MS).toBe(50);
    const started = Date.now();
    expect(failure('(x) => { while (true) {} }', 1)).toBe('the condition ran longer than 50 ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('stops an endless loop that runs while the source is being compiled', () => {
    expect(failure('(() => { for (;;) {} })()', 1)).toBe('the condition ran longer than 50 ms');
  });

  it('reports deep recursion', () => {
    expect(failure('(x) => { const f = (n) => f(n + 1) + 1; return f(0) }', 1)).toBe(
      'the condition recursed too deeply (maximum call stack size exceeded)',
    );
  });

  it(`rejects a source longer than ${MAX_CONDITION_SOURCE} characters`, () => {
    const long = '(x) => ' + 'x'.padEnd(MAX_CONDITION_SOURCE, ' ');
    expect(failure(long, 1)).toBe(`the condition is ${long.length} characters long; the limit is ${MAX_CONDITION_SOURCE}`);
    expect(() => sandbox.check(long)).toThrow(ConditionError);
  });

  it('keeps working after a time-out or a stack overflow', () => {
    failure('(x) => { while (true) {} }', 1);
    failure('(x) => { const f = () => f(); return f() }', 1);
    expect(sandbox.run('(x) => x === 5', 5)).toBe(true);
  });
});

describe('ConditionSandbox: no access to the host', () => {
  it.each(['require', 'process', 'fetch', 'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'Buffer', 'module', 'global'])(
    '%s is not available',
    (name) => {
      expect(sandbox.run(`(x) => typeof ${name} === 'undefined'`, 0)).toBe(true);
      expect(failure(`(x) => ${name}`, 0)).toMatch(new RegExp(`^ReferenceError: ${name} is not defined`));
    },
  );

  it('require("fs") is a ReferenceError', () => {
    expect(failure('(x) => require("fs").readFileSync("/etc/passwd", "utf8")', 0)).toMatch(/^ReferenceError: require is not defined/);
  });

  it.each([
    "function (x) { return this.constructor.constructor('return process')() }",
    "(x) => ({}).constructor.constructor('return process')().pid",
    "(x) => (function () { return this })().constructor.constructor('return process')().exit(1)",
    "(x) => x.constructor.constructor('return process')().pid",
    "(x) => Function('return globalThis.process')().pid",
  ])('escaping through the Function constructor fails: %s', (source) => {
    expect(failure(source, {})).toMatch(/process|undefined/);
  });

  it('import("fs") is rejected as a Promise', () => {
    expect(failure("(x) => import('fs')", 0)).toBe('TypeError: the condition returned a Promise; conditions must be synchronous');
  });

  it.each(['async (x) => true', 'async function (x) { return true }', 'async (x) => { throw new Error("later") }', '(x) => Promise.resolve(true)'])(
    '%s is rejected as a Promise',
    (source) => {
      expect(failure(source, 0)).toBe('TypeError: the condition returned a Promise; conditions must be synchronous');
    },
  );

  it('a rejected Promise from one call does not surface in the next', () => {
    failure('async (x) => { throw new Error("later") }', 0);
    expect(sandbox.run('(x) => x === 1', 1)).toBe(true);
  });

  it('a condition that redefines Array.prototype.includes does not affect another condition', () => {
    // Sloppy mode: the assignment to the frozen prototype is ignored.
    expect(sandbox.run('(x) => { Array.prototype.includes = () => true; return [1].includes(2) }', 0)).toBe(false);
    // Strict mode: the assignment throws.
    expect(failure('(x) => { "use strict"; Array.prototype.includes = () => true; return true }', 0)).toMatch(/^TypeError: .*read only/);
    expect(failure('(x) => { Object.defineProperty(Array.prototype, "includes", { value: () => true }); return true }', 0)).toMatch(
      /^TypeError/,
    );
    expect(sandbox.run("(s) => ['placed', 'confirmed'].includes(s)", 'cancelled')).toBe(false);
  });

  it('a condition cannot leave globals for another condition', () => {
    expect(sandbox.run('(x) => { globalThis.leak = 1; Object.prototype.polluted = 1; return true }', 0)).toBe(true);
    expect(sandbox.run("(x) => typeof leak === 'undefined' && ({}).polluted === undefined", 0)).toBe(true);
  });

  it('SharedArrayBuffer, Atomics and WebAssembly are removed', () => {
    expect(sandbox.run("(x) => [typeof SharedArrayBuffer, typeof Atomics, typeof WebAssembly].every((t) => t === 'undefined')", 0)).toBe(true);
  });
});

describe('ConditionSandbox: bad sources', () => {
  it.each([
    ['42', 'number'],
    ['"(x) => true"', 'string'],
    ['null', 'object'],
    ['{}', 'object'],
    ['[(x) => true]', 'object'],
    ['undefined', 'undefined'],
  ])('%s is not a function', (source, type) => {
    const expected = `TypeError: the condition is not a function (got ${type})`;
    expect(failure(source, 0)).toBe(expected);
    expect(() => sandbox.check(source)).toThrow(expected);
  });

  it.each(['(x) =>', '(x) => {', 'x =>> 1', 'function (x) { return x', '(x) => x)', 'return true', '(x) => x; process.exit(1); (']) (
    'a syntax error says so: %s',
    (source) => {
      expect(failure(source, 0)).toMatch(/^SyntaxError: /);
      expect(() => sandbox.check(source)).toThrow(/^SyntaxError: /);
    },
  );

  it('an exception thrown by the condition is reported with its type and message', () => {
    expect(failure('(x) => x.a.b', {})).toMatch(/^TypeError: Cannot read properties of undefined/);
    expect(failure('(x) => { throw new RangeError("too big") }', 0)).toBe('RangeError: too big');
    expect(failure('(x) => { throw "plain" }', 0)).toMatch(/plain/);
  });

  it('check() accepts a function without running it', () => {
    expect(() => sandbox.check('(x) => { while (true) {} }')).not.toThrow();
    expect(() => sandbox.check('(x) => { throw new Error("never run") }')).not.toThrow();
  });
});

describe('ConditionSandbox: compiled sources and isolates', () => {
  beforeEach(() => sandbox.dispose());

  it('the same source called 1000 times gives the right result every time', () => {
    const source = '(n) => n % 3 === 0';
    for (let n = 0; n < 1000; n++) expect(sandbox.run(source, n)).toBe(n % 3 === 0);
  });

  it('many distinct sources each keep their own meaning', () => {
    for (let k = 0; k < 200; k++) expect(sandbox.run(`(n) => n === ${k}`, k)).toBe(true);
    for (let k = 0; k < 200; k++) expect(sandbox.run(`(n) => n === ${k}`, k + 1)).toBe(false);
  });

  it('a source that builds its function once (IIFE) keeps that function between calls', () => {
    const source = '(() => { let calls = 0; return (x) => ++calls === 1 })()';
    // The IIFE runs once at compile time, so its closure is shared; the result is still computed each call.
    expect(sandbox.run(source, 0)).toBe(true);
    expect(sandbox.run(source, 0)).toBe(false);
  });

  it('works again after dispose() with a fresh isolate', () => {
    expect(sandbox.run('(x) => x === 1', 1)).toBe(true);
    sandbox.dispose();
    expect(sandbox.run('(x) => x === 1', 1)).toBe(true);
    sandbox.dispose();
    sandbox.dispose();
    expect(sandbox.run('(x) => x === 2', 1)).toBe(false);
  });

  it('separate sandboxes do not share compiled conditions or state', () => {
    const other = new ConditionSandbox();
    try {
      const source = '(() => { let calls = 0; return (x) => ++calls === 1 })()';
      expect(sandbox.run(source, 0)).toBe(true);
      expect(other.run(source, 0)).toBe(true);
    } finally {
      other.dispose();
    }
  });
});
