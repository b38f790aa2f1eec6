import { describe, expect, it } from 'vitest';
import { compileQuery, describeQueryError, selectValue } from '../../../src/rules/jsonpath.ts';

// The bookstore document of RFC 9535 §1.5, plus a few fields for the edge cases below.
const STORE = {
  store: {
    book: [
      { category: 'reference', author: 'Nigel Rees', title: 'Sayings of the Century', price: 8.95 },
      { category: 'fiction', author: 'Evelyn Waugh', title: 'Sword of Honour', price: 12.99 },
      { category: 'fiction', author: 'Herman Melville', title: 'Moby Dick', isbn: '0-553-21311-3', price: 8.99 },
      { category: 'fiction', author: 'J. R. R. Tolkien', title: 'The Lord of the Rings', isbn: '0-395-19395-8', price: 22.99 },
    ],
    bicycle: { color: 'red', price: 399 },
  },
  a: { b: 'bee', list: [10, 20, 30], empty: [], nothing: null, falsy: false, zero: 0 },
  'odd key': { 'with.dot': 1 },
};

const TITLES = ['Sayings of the Century', 'Sword of Honour', 'Moby Dick', 'The Lord of the Rings'];
const [T0, T1, T2, T3] = TITLES;

const select = (query: string, doc: unknown = STORE): unknown => selectValue(compileQuery(query), doc);

describe('compileQuery / selectValue: RFC 9535 selectors', () => {
  it.each<[string, unknown]>([
    // name selectors, dot and bracket notation
    ['$.store.bicycle.color', 'red'],
    ["$['store']['bicycle']['color']", 'red'],
    ['$["store"]["bicycle"]["price"]', 399],
    ["$['odd key']['with.dot']", 1],
    ['$.a.nothing', null],
    ['$.a.falsy', false],
    ['$.a.zero', 0],
    // index selectors, including negative ones
    ['$.store.book[0].title', T0],
    ['$.store.book[3].title', T3],
    ['$.store.book[-1].title', T3],
    ['$.store.book[-4].title', T0],
    ['$.a.list[-2]', 20],
    // blank space is allowed between segments and inside brackets
    ["$ .store\t.bicycle[ 'color' ]", 'red'],
    // the root itself
    ['$', STORE],
  ])('singular query %s gives the value', (query, expected) => {
    expect(compileQuery(query).singularQuery()).toBe(true);
    expect(select(query)).toEqual(expected);
  });

  it.each<[string, unknown[]]>([
    // slices
    ['$.store.book[1:3].title', [T1, T2]],
    ['$.store.book[::2].title', [T0, T2]],
    ['$.store.book[::-1].title', [T3, T2, T1, T0]],
    ['$.store.book[-2:].title', [T2, T3]],
    ['$.store.book[:2].title', [T0, T1]],
    ['$.store.book[1:3:0].title', []], // step 0 selects nothing
    ['$.store.book[5:9].title', []],
    ['$.a.list[::-2]', [30, 10]],
    // wildcards
    ['$.store.book[*].title', TITLES],
    ['$.store.book.*.author', ['Nigel Rees', 'Evelyn Waugh', 'Herman Melville', 'J. R. R. Tolkien']],
    ['$.store.bicycle.*', ['red', 399]],
    ['$.a.list[*]', [10, 20, 30]],
    ['$.a.empty[*]', []],
    // descendant segment
    ['$..price', [8.95, 12.99, 8.99, 22.99, 399]],
    ['$..book[2].title', [T2]],
    ['$..book[-1].isbn', ['0-395-19395-8']],
    ['$..isbn', ['0-553-21311-3', '0-395-19395-8']],
    ['$..nope', []],
    // several selectors in one segment
    ['$.store.book[0,3].title', [T0, T3]],
    ["$.store.bicycle['color','price']", ['red', 399]],
    ['$.store.book[0,0].title', [T0, T0]],
    // filters: comparisons
    ['$.store.book[?@.price > 15].title', [T3]],
    ['$.store.book[?@.price < 10].title', [T0, T2]],
    ['$.store.book[?@.price >= 12.99].title', [T1, T3]],
    ['$.store.book[?@.price <= 8.99].title', [T0, T2]],
    ['$.store.book[?@.price == 8.95].title', [T0]],
    ['$.store.book[?@.price != 8.95].title', [T1, T2, T3]],
    ['$.store.book[?@.category == "reference"].title', [T0]],
    ["$.store.book[?@.category == 'fiction'].title", [T1, T2, T3]],
    ['$.store.book[?@.author < "I"].author', ['Evelyn Waugh', 'Herman Melville']],
    ['$.store.book[?@.author > "I"].author', ['Nigel Rees', 'J. R. R. Tolkien']],
    ['$.store.book[?@.price == "8.95"].title', []], // a number never equals a string
    ['$.store.book[?@.missing == null].title', []], // nothing is not null
    ['$.a[?@ == null]', [null]],
    // filters: existence
    ['$.store.book[?@.isbn].title', [T2, T3]],
    ['$..book[?@.isbn].title', [T2, T3]],
    ['$.store.book[?!@.isbn].title', [T0, T1]],
    ['$.a[?@.b]', []], // @ is each child of $.a, none of which has "b"
    // filters: logical operators and grouping
    ['$.store.book[?@.price > 10 && @.category == "fiction"].title', [T1, T3]],
    ['$.store.book[?@.price < 9 || @.price > 20].title', [T0, T2, T3]],
    ['$.store.book[?!(@.price < 10)].title', [T1, T3]],
    ['$.store.book[?@.isbn && @.price < 10].title', [T2]],
    ['$.store.book[?(@.price < 9 || @.price > 20) && @.isbn].title', [T2, T3]],
    ['$.store.book[?@.price < 9 || @.price > 20 && @.isbn].title', [T0, T2, T3]], // && binds tighter
    // filters: the root inside a filter
    ['$.store.book[?@.price < $.store.bicycle.price].title', TITLES],
    // function extensions
    ['$.store.book[?length(@.title) > 15].title', [T0, T3]],
    ['$.store.book[?length(@.author) == 10].author', ['Nigel Rees']],
    ['$[?length(@) == 4]', []], // no top-level value has length 4 (objects count members)
    ['$.store[?length(@) == 4]', [STORE.store.book]],
    ['$.store[?count(@.*) == 2]', [STORE.store.bicycle]],
    ['$.store.book[?count(@.*) == 5].title', [T2, T3]],
    ['$.store.book[?match(@.author, "J.*")].title', [T3]],
    ['$.store.book[?match(@.author, "Mel")].title', []], // match() is anchored to the whole string
    ['$.store.book[?search(@.author, "Mel")].title', [T2]],
    ['$.store.book[?search(@.title, "^S")].title', [T0, T1]],
    ['$.store.book[?match(@.isbn, "[0-9-]+")].title', [T2, T3]],
    ['$.store.book[?value(@.isbn) == "0-553-21311-3"].title', [T2]],
    ['$.store.book[?value(@..price) > 20].title', [T3]],
  ])('query %s gives the array of matches', (query, expected) => {
    expect(compileQuery(query).singularQuery()).toBe(false);
    expect(select(query)).toEqual(expected);
  });

  it('a singular query that matches nothing gives undefined', () => {
    for (const query of ['$.a.missing', '$.a.b.c', "$['a'][0]", '$.store.book[10]', '$.store.book[-5]', '$.a.list[3]', '$.a.b[0]']) {
      expect(compileQuery(query).singularQuery(), query).toBe(true);
      expect(select(query), query).toBeUndefined();
    }
  });

  it('$.a.b and $[\'a\'][0] are singular: the value itself, not wrapped in an array', () => {
    expect(select('$.a.b', { a: { b: [1, 2] } })).toEqual([1, 2]);
    expect(select("$['a'][0]", { a: ['first', 'second'] })).toBe('first');
    expect(select("$['a'][0]", { a: [] })).toBeUndefined();
    expect(select('$.a.b', { a: 'not an object' })).toBeUndefined();
  });

  it('a non-singular query gives an array, possibly empty, even when one node matches', () => {
    expect(select('$.a[*]', { a: [7] })).toEqual([7]);
    expect(select('$.a[*]', { a: [] })).toEqual([]);
    expect(select('$.a[*]', {})).toEqual([]);
    expect(select('$.a[*]', { a: 'scalar' })).toEqual([]);
    expect(select('$.a[0:1]', { a: [1, 2] })).toEqual([1]);
    expect(select('$..b', { a: { b: 1 } })).toEqual([1]);
  });

  it('works on any JSON value at the root, not only objects', () => {
    expect(select('$', 42)).toBe(42);
    expect(select('$[0]', ['x'])).toBe('x');
    expect(select('$.a', 'str')).toBeUndefined();
    expect(select('$[*]', null)).toEqual([]);
    expect(select('$[?@ > 1]', [1, 2, 3])).toEqual([2, 3]);
  });

  it('compiles each distinct query once (the same object comes back)', () => {
    expect(compileQuery('$.store.book[?@.price > 15].title')).toBe(compileQuery('$.store.book[?@.price > 15].title'));
  });
});

describe('compileQuery: invalid queries throw', () => {
  it.each([
    ['$[?@.price >', 'incomplete comparison'],
    ['$.a[', 'unclosed bracket'],
    ["$['a'", 'unclosed bracket after a name'],
    ['$..', 'bald descendant segment'],
    ['$.a.', 'dot with no name'],
    ['a.b', 'no leading $'],
    ['@.a', 'current node outside a filter'],
    ['', 'empty query'],
    [' $.a', 'leading whitespace'],
    ['$.a ', 'trailing whitespace'],
    ["$[?length(@.x) == 'a' ==]", 'dangling comparison'],
    ['$[01]', 'leading zero in an index'],
    ['$[-0]', 'negative zero index'],
    ['$[1.5]', 'fractional index'],
    ['$[?@.a == $..b]', 'non-singular query in a comparison'],
    ['$[?length(@.a, @.b)]', 'length() with two arguments'],
    ['$[?length()]', 'length() with no argument'],
    ['$[?count(@.a, @.b) > 1]', 'count() with two arguments'],
    ['$[?match(@.a)]', 'match() with one argument'],
    ['$[?search(@.a, "x", "y")]', 'search() with three arguments'],
    ['$[?value(@.a, @.b) == 1]', 'value() with two arguments'],
    ['$[?count(1) > 0]', 'count() of a literal'],
    ['$[?length(@.x)]', 'a ValueType function result used as a test'],
    ['$[?nope(@.a)]', 'an unknown function'],
    ['$[?@.a === 1]', 'JavaScript operator'],
    ['$[?@.a = 1]', 'assignment'],
    ['$.store.book[?@.price > 10 and @.isbn]', 'words instead of &&'],
  ])('%s (%s)', (query) => {
    expect(() => compileQuery(query)).toThrow();
  });

  it('the error message is short and names what is wrong', () => {
    let message = '';
    try {
      compileQuery('$[?length(@.a, @.b)]');
    } catch (err) {
      message = describeQueryError(err);
    }
    expect(message).toMatch(/length\(\) takes 1 argument, 2 given/);
    expect(message).not.toMatch(/\n/);
  });
});
