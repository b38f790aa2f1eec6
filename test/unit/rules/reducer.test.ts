import { describe, expect, it } from 'vitest';
import { MAX_REDUCER_BYTES, MAX_REDUCER_DEPTH, applyReducer, compileReducer } from '../../../src/rules/reducer.ts';
import { RuleError } from '../../../src/rules/rule-error.ts';

const PAYLOAD = {
  brand: { name: 'Acme', logo: 'https://cdn.example/acme.png', tags: ['tools', 'outdoor'] },
  items: [
    { sku: 'A-1', qty: 2, price: 10 },
    { sku: 'B-2', qty: 1, price: 25 },
  ],
  order: { id: 'o-1', status: 'placed', paid: false, note: null },
};

const reduce = (reducer: unknown, payload: unknown = PAYLOAD): unknown => applyReducer(compileReducer(reducer), payload);

/** Plain-object copy: the reducer builds prototype-less objects, compared here through JSON. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function ruleError(raw: unknown): RuleError {
  try {
    compileReducer(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(RuleError);
    return err as RuleError;
  }
  throw new Error('compileReducer accepted the reducer');
}

/** `levels` nested objects (the reducer itself is level 1) with `leaf` in the innermost one. */
function nested(levels: number, leaf: unknown = '$.brand.name'): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf };
  for (let i = 1; i < levels; i++) v = { k: v };
  return v;
}

describe('applyReducer', () => {
  it("reduces API.md's example", () => {
    const reducer = { brand_name: '$.brand.name', logo: '$.brand.logo', skus: '$.items[*].sku', source: 'fynd' };
    expect(plain(reduce(reducer))).toEqual({ brand_name: 'Acme', logo: 'https://cdn.example/acme.png', skus: ['A-1', 'B-2'], source: 'fynd' });
  });

  it('keeps the key order of the reducer', () => {
    expect(Object.keys(reduce({ z: '$.order.id', a: 1, m: '$.brand.name' }) as object)).toEqual(['z', 'a', 'm']);
  });

  it('walks nested objects and arrays of templates', () => {
    const reducer = {
      order: { id: '$.order.id', state: { status: '$.order.status', paid: '$.order.paid' } },
      pair: ['$.brand.name', '$.items[0].sku', { first_qty: '$.items[0].qty' }, ['$.order.id', 'lit']],
      tags: '$.brand.tags',
    };
    expect(plain(reduce(reducer))).toEqual({
      order: { id: 'o-1', state: { status: 'placed', paid: false } },
      pair: ['Acme', 'A-1', { first_qty: 2 }, ['o-1', 'lit']],
      tags: ['tools', 'outdoor'],
    });
  });

  it('passes literals through: numbers, booleans, null, strings that do not start with $', () => {
    const reducer = {
      n: 42,
      f: -1.5,
      t: true,
      no: false,
      nil: null,
      s: 'fynd',
      empty: '',
      dollar_inside: 'costs $5',
      spaced: ' $.brand.name',
      list: [1, 'two', null, false],
      obj: {},
      arr: [],
    };
    expect(plain(reduce(reducer))).toEqual(reducer);
  });

  it('gives falsy values a query selects (false, null, 0, empty string) rather than leaving them out', () => {
    expect(plain(reduce({ paid: '$.order.paid', note: '$.order.note', z: '$.z', e: '$.e' }, { ...PAYLOAD, z: 0, e: '' }))).toEqual({
      paid: false,
      note: null,
      z: 0,
      e: '',
    });
  });

  it('leaves the key out when a singular query matches nothing', () => {
    const out = reduce({ name: '$.brand.name', missing: '$.brand.missing', deep: '$.nope.nope', idx: '$.items[7].sku' });
    expect(plain(out)).toEqual({ name: 'Acme' });
    expect(Object.keys(out as object)).toEqual(['name']);
  });

  it('leaves the array item out when a singular query matches nothing', () => {
    expect(plain(reduce({ list: ['$.brand.name', '$.brand.missing', 'x', '$.order.id'] }))).toEqual({ list: ['Acme', 'x', 'o-1'] });
    expect(plain(reduce({ list: ['$.missing'] }))).toEqual({ list: [] });
  });

  it('a non-singular query gives an array, possibly empty', () => {
    expect(plain(reduce({ expensive: '$.items[?@.price > 20].sku', none: '$.items[?@.price > 100].sku', all: '$..sku' }))).toEqual({
      expensive: ['B-2'],
      none: [],
      all: ['A-1', 'B-2'],
    });
  });

  it('a lone "$" gives the whole payload', () => {
    expect(plain(reduce({ everything: '$' }))).toEqual({ everything: PAYLOAD });
  });

  it('does not share or alter the payload', () => {
    const payload = structuredClone(PAYLOAD);
    reduce({ a: '$.brand', b: { c: '$.items' } }, payload);
    expect(payload).toEqual(PAYLOAD);
  });

  it('a compiled reducer can be applied to many payloads', () => {
    const r = compileReducer({ id: '$.order.id' });
    expect(plain(applyReducer(r, { order: { id: 1 } }))).toEqual({ id: 1 });
    expect(plain(applyReducer(r, { order: { id: 2 } }))).toEqual({ id: 2 });
    expect(plain(applyReducer(r, {}))).toEqual({});
    expect(plain(applyReducer(r, null))).toEqual({});
  });

  it('a "__proto__" key comes out as an own key and does not pollute Object.prototype', () => {
    const reducer = JSON.parse('{"__proto__": {"polluted": "$.brand.name"}, "constructor": {"prototype": {"polluted": 1}}, "ok": 1}');
    const out = reduce(reducer) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(Object.keys(out)).toEqual(['__proto__', 'constructor', 'ok']);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":"Acme"},"constructor":{"prototype":{"polluted":1}},"ok":1}');
    // The key is data, not the object's prototype: nothing is inherited from it.
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('a "__proto__" key in the payload is just data too', () => {
    const payload = JSON.parse('{"__proto__": {"x": 1}}');
    expect(JSON.stringify(reduce({ p: "$['__proto__']" }, payload))).toBe('{"p":{"x":1}}');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('compileReducer', () => {
  it.each([null, 'str', 5, true, [], ['$.a']])('rejects a reducer that is not an object: %j', (raw) => {
    const err = ruleError(raw);
    expect(err.path).toBe('reducer');
    expect(err.reason).toBe('must be a JSON object');
  });

  it('uses the path it is given (e.g. reducer_configuration)', () => {
    expect(() => compileReducer({ a: '$[' }, 'reducer_configuration')).toThrow(/^reducer_configuration\.a: invalid JSONPath/);
  });

  it('names a bad JSONPath by its path', () => {
    const err = ruleError({ brand: { name: '$.brand.name', logo: '$.brand[' } });
    expect(err.path).toBe('reducer.brand.logo');
    expect(err.reason).toMatch(/^invalid JSONPath "\$\.brand\[": /);
    expect(err.message).toMatch(/^reducer\.brand\.logo: invalid JSONPath/);
  });

  it('names a bad JSONPath inside an array by index', () => {
    expect(ruleError({ list: ['$.a', { x: '$..' }] }).path).toBe('reducer.list[1].x');
  });

  it.each(['$x', '$..', '$[?@.a ==]', '$.a.'])('a string starting with $ must be a valid query: %j', (leaf) => {
    expect(ruleError({ v: leaf }).path).toBe('reducer.v');
  });

  it(`accepts depth ${MAX_REDUCER_DEPTH} and rejects ${MAX_REDUCER_DEPTH + 1}, naming where`, () => {
    expect(MAX_REDUCER_DEPTH).toBe(10);
    const ten = nested(10);
    expect(plain(reduce(ten))).toEqual(nested(10, 'Acme'));
    expect(() => compileReducer(nested(10, ['$.order.id']))).toThrow(RuleError); // an array is one more level
    expect(() => compileReducer(nested(9, ['$.order.id']))).not.toThrow();
    const err = ruleError(nested(11));
    expect(err.path).toBe('reducer' + '.k'.repeat(10));
    expect(err.reason).toBe('nesting is limited to 10 levels');
  });

  it('counts arrays as levels too', () => {
    let v: unknown = ['$.a'];
    for (let i = 2; i < 10; i++) v = [v];
    expect(() => compileReducer({ v })).not.toThrow(); // 1 object + 9 arrays
    const err = ruleError({ v: [v] });
    expect(err.path).toBe('reducer.v' + '[0]'.repeat(9));
  });

  it(`accepts ${MAX_REDUCER_BYTES} bytes and rejects one byte more`, () => {
    expect(MAX_REDUCER_BYTES).toBe(64 * 1024);
    const frame = JSON.stringify({ s: '' }).length;
    const fits = { s: 'x'.repeat(MAX_REDUCER_BYTES - frame) };
    expect(Buffer.byteLength(JSON.stringify(fits))).toBe(MAX_REDUCER_BYTES);
    expect(() => compileReducer(fits)).not.toThrow();
    const err = ruleError({ s: fits.s + 'x' });
    expect(err.path).toBe('reducer');
    expect(err.reason).toBe(`is ${MAX_REDUCER_BYTES + 1} bytes; the limit is ${MAX_REDUCER_BYTES}`);
  });

  it('measures the size in UTF-8 bytes, not characters', () => {
    const frame = JSON.stringify({ s: '' }).length;
    const chars = Math.floor((MAX_REDUCER_BYTES - frame) / 2) + 1; // 'é' is 2 bytes
    expect(() => compileReducer({ s: 'é'.repeat(chars) })).toThrow(/bytes; the limit is 65536/);
  });
});
