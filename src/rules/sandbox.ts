// JavaScript conditions in a V8 isolate (isolated-vm): no host objects, a CPU deadline per call and a memory
// limit per isolate. Values go in as copies and a boolean comes out. A condition that blows the memory limit
// takes the isolate down with it; the next call builds a fresh one and recompiles what it needs.
import ivm from 'isolated-vm';

export const CONDITION_TIMEOUT_MS = 50;
export const ISOLATE_MEMORY_MB = 16;
export const MAX_CONDITION_SOURCE = 4096;
const MAX_CACHED = 5_000;

export class ConditionError extends Error {}

// Freezes the realm's shared objects so one condition cannot change what another sees
// (e.g. redefine Array.prototype.includes), and removes the few ways to reach timers or eval-like hooks.
const LOCKDOWN = `
(() => {
  const seen = new Set();
  const freeze = (value) => {
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) return;
    seen.add(value);
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) {
      const d = Object.getOwnPropertyDescriptor(value, key);
      if (d && 'value' in d) freeze(d.value);
      else if (d) { freeze(d.get); freeze(d.set); }
    }
    freeze(Object.getPrototypeOf(value));
  };
  for (const name of ['Atomics', 'SharedArrayBuffer', 'WebAssembly']) delete globalThis[name];
  freeze(globalThis);
})();
`;

// Runs one condition and checks what it gave back, inside the isolate, so only a boolean crosses over.
const wrap = (source: string) => `
(() => {
  const condition = (${source}
);
  if (typeof condition !== 'function') throw new TypeError('the condition is not a function (got ' + typeof condition + ')');
  return (value) => {
    const result = condition(value);
    if (result !== null && (typeof result === 'object' || typeof result === 'function') && typeof result.then === 'function') {
      result.then(undefined, () => {}); // its rejection must not surface in a later call
      throw new TypeError('the condition returned a Promise; conditions must be synchronous');
    }
    return Boolean(result);
  };
})()`;

interface Realm {
  isolate: ivm.Isolate;
  context: ivm.Context;
  compiled: Map<string, ivm.Reference<(value: unknown) => boolean>>;
}

export class ConditionSandbox {
  private realm: Realm | undefined;
  private disposals = 0;

  private current(): Realm {
    if (this.realm && !this.realm.isolate.isDisposed) return this.realm;
    const isolate = new ivm.Isolate({ memoryLimit: ISOLATE_MEMORY_MB });
    const context = isolate.createContextSync();
    context.evalSync(LOCKDOWN, { timeout: 1000 });
    this.realm = { isolate, context, compiled: new Map() };
    return this.realm;
  }

  /** Compiles (once) and returns a handle; throws ConditionError for a source that is not a function. */
  private compile(source: string): ivm.Reference<(value: unknown) => boolean> {
    if (source.length > MAX_CONDITION_SOURCE) {
      throw new ConditionError(`the condition is ${source.length} characters long; the limit is ${MAX_CONDITION_SOURCE}`);
    }
    const realm = this.current();
    const cached = realm.compiled.get(source);
    if (cached) return cached;
    const fn = this.guard(realm, () =>
      realm.context.evalSync(wrap(source), { timeout: CONDITION_TIMEOUT_MS, reference: true }),
    ) as ivm.Reference<(value: unknown) => boolean>;
    if (realm.compiled.size >= MAX_CACHED) realm.compiled.clear();
    realm.compiled.set(source, fn);
    return fn;
  }

  /** Checks that `source` compiles to a function, without running it on any value. */
  check(source: string): void {
    this.compile(source);
  }

  /** Runs the condition on a copy of `value`; throws ConditionError with a precise reason. */
  run(source: string, value: unknown): boolean {
    const fn = this.compile(source);
    const realm = this.current();
    return this.guard(realm, () =>
      fn.applySync(undefined, [value], { arguments: { copy: true }, result: { copy: true }, timeout: CONDITION_TIMEOUT_MS }),
    ) as boolean;
  }

  /** How many times an isolate had to be thrown away (memory limit). */
  get isolateDisposals(): number {
    return this.disposals;
  }

  private guard<T>(realm: Realm, run: () => T): T {
    try {
      return run();
    } catch (err) {
      throw this.explain(realm, err);
    }
  }

  private explain(realm: Realm, err: unknown): ConditionError {
    const message = err instanceof Error ? err.message : String(err);
    if (realm.isolate.isDisposed || /disposed/i.test(message)) {
      this.disposals++;
      if (!realm.isolate.isDisposed) realm.isolate.dispose();
      this.realm = undefined;
      return new ConditionError(`the condition exceeded the ${ISOLATE_MEMORY_MB} MiB memory limit`);
    }
    if (/timed out/i.test(message)) return new ConditionError(`the condition ran longer than ${CONDITION_TIMEOUT_MS} ms`);
    if (/call stack/i.test(message)) return new ConditionError('the condition recursed too deeply (maximum call stack size exceeded)');
    if (/could not be cloned|#<Object> could not be cloned/i.test(message)) return new ConditionError(`the value could not be copied into the sandbox: ${message}`);
    const name = err instanceof Error && err.name ? `${err.name}: ` : '';
    return new ConditionError(`${name}${message}`);
  }

  dispose(): void {
    if (this.realm && !this.realm.isolate.isDisposed) this.realm.isolate.dispose();
    this.realm = undefined;
  }
}
