// Filters and reducers end to end: the seed's validate/filter, validate/reducer and filter_reducer operations,
// and their effect on what real receivers get.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { eventually, startTestApp, subscriberBody, type TestApp } from '../helpers/app.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

let hookd: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  hookd = await startTestApp();
  receiver = await startReceiver();
});
afterAll(async () => {
  await hookd.close();
  await receiver.close();
});

const order = { user: { id: 238 }, order: { status: 'placed', items: [{ sku: 'a', price: 10 }, { sku: 'b', price: 20 }] }, brand: { name: 'Acme', logo: 'acme.png' } };

const validateFilter = (filters: unknown, sample_data: unknown = order) => hookd.call('POST', hookd.p('/validate/filter'), { sample_data, filters });
const validateReducer = (reducer: unknown, sample_data: unknown = order) => hookd.call('POST', hookd.p('/validate/reducer'), { sample_data, reducer });

describe('POST validate/filter', () => {
  it.each([
    ['a singular query and an arrow function', { query: '$.user.id', condition: '(uid) => uid === 238' }, true],
    ['a function expression', { query: '$.order.status', condition: "function (s) { return ['placed','confirmed'].includes(s) }" }, true],
    ['a filter selector handing over the array of matches', { query: '$.order.items[?@.price > 15].sku', condition: "(skus) => skus.length === 1 && skus[0] === 'b'" }, true],
    ['a missing value (undefined)', { query: '$.user.email', condition: '(e) => e === undefined' }, true],
    ['a false condition', { query: '$.user.id', condition: '(uid) => uid === 1' }, false],
    ['AND of two', { logic: 'AND', conditions: [{ query: '$.user.id', condition: '(u) => u === 238' }, { query: '$.order.status', condition: "(s) => s === 'placed'" }] }, true],
    ['or in lower case', { logic: 'or', conditions: [{ query: '$.user.id', condition: '(u) => u === 1' }, { query: '$.brand.name', condition: "(n) => n === 'Acme'" }] }, true],
    ['nested connectors', { logic: 'AND', conditions: [{ logic: 'OR', conditions: [{ query: '$.user.id', condition: '(u) => false' }, { query: '$..sku', condition: '(s) => s.length === 2' }] }] }, true],
  ])('evaluates %s', async (_name, filters, expected) => {
    const res = await validateFilter(filters);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, message: expect.any(String), filter_result: expected });
  });

  it.each([
    ['a bad JSONPath', { query: '$.order[?@.price >', condition: '(x) => true' }, /filters\.query: invalid JSONPath/],
    ['a condition that is not a function', { query: '$.user.id', condition: '"yes"' }, /filters\.condition: .*not a function/],
    ['a syntax error', { query: '$.user.id', condition: '(x) => x ===' }, /filters\.condition: SyntaxError/],
    ['an exception', { query: '$.user.id', condition: "(x) => { throw new Error('boom') }" }, /filters\.condition \(query \$\.user\.id\): Error: boom/],
    ['an infinite loop', { query: '$.user.id', condition: '(x) => { while (true) {} }' }, /ran longer than 50 ms/],
    ['deep recursion', { query: '$.user.id', condition: '(x) => { const f = () => f(); return f(); }' }, /recursed too deeply/],
    ['an allocation bomb', { query: '$.user.id', condition: '(x) => { const a = []; a[5e7] = 1; return a.fill(2).length }' }, /memory limit|deadline/],
    ['reaching for the host', { query: '$.user.id', condition: "(x) => this.constructor.constructor('return process')().exit(1)" }, /process is not defined/],
    ['require', { query: '$.user.id', condition: "(x) => require('fs')" }, /require is not defined/],
    ['import()', { query: '$.user.id', condition: "(x) => import('fs')" }, /Promise/],
    ['a bad logic', { logic: 'XOR', conditions: [{ query: '$.a', condition: '(x) => true' }] }, /filters\.logic: must be AND or OR/],
    ['six conditions', { logic: 'AND', conditions: Array.from({ length: 6 }, () => ({ query: '$.a', condition: '(x) => true' })) }, /1 to 5/],
  ])('answers success:false with the reason for %s', async (_name, filters, message) => {
    const res = await validateFilter(filters);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: false, message: expect.stringMatching(message), filter_result: false });
  });

  it('keeps serving other requests while a hostile condition is stopped', async () => {
    const [hostile, normal] = await Promise.all([
      validateFilter({ query: '$.user.id', condition: '(x) => new Array(5e7).fill(1).length' }),
      validateFilter({ query: '$.user.id', condition: '(u) => u === 238' }),
    ]);
    expect(hostile.body.success).toBe(false);
    expect(normal.body).toMatchObject({ success: true, filter_result: true });
    expect((await hookd.call('GET', '/healthz')).status).toBe(200);
  });

  it.each([
    ['no sample_data', { filters: { query: '$.a', condition: '(x) => true' } }],
    ['filters as a string', { sample_data: {}, filters: '$.a' }],
    ['sample_data as an array', { sample_data: [], filters: { query: '$.a', condition: '(x) => true' } }],
  ])('answers 400 for %s', async (_name, body) => {
    const res = await hookd.call('POST', hookd.p('/validate/filter'), body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_ERROR');
  });
});

describe('POST validate/reducer', () => {
  it('maps the payload as API.md shows', async () => {
    const res = await validateReducer({ brand_name: '$.brand.name', logo: '$.brand.logo', skus: '$.order.items[*].sku', source: 'fynd', missing: '$.nope', nested: { first: '$.order.items[0].price', flags: [true, '$.user.id'] } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      message: expect.any(String),
      reducer_result: { brand_name: 'Acme', logo: 'acme.png', skus: ['a', 'b'], source: 'fynd', nested: { first: 10, flags: [true, 238] } },
    });
  });

  it('answers success:false and reducer_result null for an invalid reducer', async () => {
    const res = await validateReducer({ a: { b: '$.x[' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: false, message: expect.stringMatching(/reducer\.a\.b: invalid JSONPath/), reducer_result: null });
  });

  it('answers 400 when the reducer is not an object', async () => {
    expect((await hookd.call('POST', hookd.p('/validate/reducer'), { sample_data: {}, reducer: '$.a' })).status).toBe(400);
    expect((await hookd.call('POST', hookd.p('/validate/reducer'), { reducer: {} })).status).toBe(400);
  });
});

describe('PUT filter_reducer', () => {
  let subscriberId: number;
  const SLUG = 'application/order/placed/v1';
  const put = (body: unknown, company = 1, id = subscriberId) => hookd.call('PUT', hookd.p(`/company/${company}/subscriber/${id}/filter_reducer`), body);

  beforeAll(async () => {
    const res = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/fr'), { events: [{ slug: SLUG }, { slug: 'company/product/*/v1' }] }));
    subscriberId = res.body.id;
  });

  it('saves a filter and a reducer, leaves out what is not given, and removes with null', async () => {
    const filter = { query: '$.order.status', condition: "(s) => s === 'placed'" };
    const res = await put({ event_slug: SLUG, filter_configuration: filter, reducer_configuration: { s: '$.order.status' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, message: expect.any(String), data: { subscriber_id: subscriberId, event_slug: SLUG, filters: filter, reducer: { s: '$.order.status' } } });
    const onlyReducer = await put({ event_slug: SLUG, reducer_configuration: null });
    expect(onlyReducer.body.data).toMatchObject({ filters: filter, reducer: null });
    const read = await hookd.call('GET', hookd.p(`/subscriber/${subscriberId}`));
    expect(read.body.events[0]).toEqual({ slug: SLUG, filters: filter, reducer: null });
    await put({ event_slug: SLUG, filter_configuration: null });
  });

  it('answers 404 for an unknown subscriber, another company, or a slug it does not list', async () => {
    for (const [body, company, id] of [
      [{ event_slug: SLUG }, 1, 999999],
      [{ event_slug: SLUG }, 2, undefined],
      [{ event_slug: 'application/cart/create/v1' }, 1, undefined],
    ] as const) {
      const res = await put(body, company, id ?? subscriberId);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('NOT_FOUND');
    }
  });

  it('answers 422 for an invalid filter or reducer and saves nothing', async () => {
    const before = (await hookd.call('GET', hookd.p(`/subscriber/${subscriberId}`))).body.events;
    const badFilter = await put({ event_slug: SLUG, filter_configuration: { query: '$.x', condition: 'nope(' }, reducer_configuration: { ok: '$.a' } });
    expect(badFilter.status).toBe(422);
    expect(badFilter.body).toMatchObject({ success: false, code: 'INVALID_CONFIGURATION', message: expect.stringMatching(/^filter_configuration\.condition: SyntaxError/) });
    const badReducer = await put({ event_slug: SLUG, reducer_configuration: { a: '$[' } });
    expect(badReducer.status).toBe(422);
    expect(badReducer.body.message).toMatch(/^reducer_configuration\.a: invalid JSONPath/);
    expect((await hookd.call('GET', hookd.p(`/subscriber/${subscriberId}`))).body.events).toEqual(before);
  });

  it('answers 400 without event_slug', async () => {
    expect((await put({ filter_configuration: null })).status).toBe(400);
  });
});

describe('filters and reducers at publish', () => {
  const publish = (slug: string, payload: Record<string, unknown>, company = 3) =>
    hookd.call('POST', hookd.p(`/company/${company}/event`), { event_slug: slug, payload });

  it('delivers only what the filter admits, shaped by the reducer and signed as sent', async () => {
    const sub = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/shaped'), {
      association: { company_id: 3 },
      events: [{ slug: 'company/product/create/v1', filters: { query: '$.price', condition: '(p) => p > 15' }, reducer: { title: '$.name', price: '$.price', from: 'hookd' } }],
    }));
    expect(sub.status).toBe(201);
    expect((await publish('company/product/create/v1', { name: 'cheap', price: 5 })).body.deliveries).toBe(0);
    expect((await publish('company/product/create/v1', { name: 'dear', price: 50, secret_field: 'x' })).body.deliveries).toBe(1);
    const [got] = await receiver.waitFor(1, '/shaped');
    expect(got!.json.payload).toEqual({ title: 'dear', price: 50, from: 'hookd' });
    expect(got!.json.contains).toEqual(['title', 'price', 'from']);
    const verified = new Webhook(sub.body.auth_meta.secret).verify(got!.body, {
      'webhook-id': String(got!.headers['webhook-id']),
      'webhook-timestamp': String(got!.headers['webhook-timestamp']),
      'webhook-signature': String(got!.headers['webhook-signature']),
    });
    expect(verified).toMatchObject({ payload: { title: 'dear' } });
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.requests.filter((r) => r.path === '/shaped')).toHaveLength(1);
  });

  it('decides each event of a batch on its own payload, even when they share a slug', async () => {
    await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/batched'), {
      association: { company_id: 6 },
      events: [{ slug: 'company/product/update/v1', filters: { query: '$.price', condition: '(p) => p > 15' } }],
    }));
    await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/all'), { association: { company_id: 6 }, events: [{ slug: 'company/*/update/v1' }] }));
    const prices = [5, 50, 7, 70, 16];
    const res = await hookd.call('POST', hookd.p('/company/6/event/batch'), {
      events: prices.map((price) => ({ event_slug: 'company/product/update/v1', payload: { price } })),
    });
    expect(res.status).toBe(202);
    expect(res.body.items.map((i: { deliveries: number }) => i.deliveries)).toEqual([1, 2, 1, 2, 2]);
    const got = await receiver.waitFor(3, '/batched');
    expect(got.map((r) => r.json.payload.price).sort((a: number, b: number) => a - b)).toEqual([16, 50, 70]);
    expect(await receiver.waitFor(5, '/all')).toHaveLength(5);
  });

  it('applies a filter saved with filter_reducer to the next event', async () => {
    const sub = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/later'), { association: { company_id: 4 }, events: [{ slug: 'company/brand/update/v1' }] }));
    expect((await publish('company/brand/update/v1', { tier: 'gold' }, 4)).body.deliveries).toBe(1);
    const saved = await hookd.call('PUT', hookd.p(`/company/4/subscriber/${sub.body.id}/filter_reducer`), {
      event_slug: 'company/brand/update/v1',
      filter_configuration: { query: '$.tier', condition: "(t) => t === 'platinum'" },
    });
    expect(saved.status).toBe(200);
    expect((await publish('company/brand/update/v1', { tier: 'gold' }, 4)).body.deliveries).toBe(0);
    expect((await publish('company/brand/update/v1', { tier: 'platinum' }, 4)).body.deliveries).toBe(1);
    const got = await receiver.waitFor(2, '/later');
    expect(got.map((r) => r.json.payload.tier)).toEqual(['gold', 'platinum']);
  });

  it('records a filter that fails at publish as FILTER_ERROR with the reason and sends nothing', async () => {
    const sub = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/broken'), {
      association: { company_id: 5 },
      events: [{ slug: 'company/product/create/v1', filters: { query: '$.tags', condition: "(tags) => tags.includes('x')" } }],
    }));
    const res = await publish('company/product/create/v1', { name: 'no tags' }, 5);
    expect(res.status).toBe(202);
    expect(res.body.deliveries).toBe(0);
    const list = (await hookd.call('GET', hookd.p(`/delivery?subscriber_id=${sub.body.id}`))).body;
    expect(list.items).toHaveLength(1);
    expect(list.items[0].status).toBe('FILTER_ERROR');
    const detail = (await hookd.call('GET', hookd.p(`/delivery/${list.items[0].id}`))).body;
    expect((await hookd.call('POST', hookd.p(`/delivery/${list.items[0].id}/retry`))).status).toBe(409);
    expect(detail.error).toMatch(/filter failed: events\[0\]\.filters\.condition \(query \$\.tags\): TypeError: Cannot read properties of undefined/);
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.requests.filter((r) => r.path === '/broken')).toHaveLength(0);
  });

  it('keeps delivering to others while a runaway filter is stopped', async () => {
    await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/runaway'), {
      association: { company_id: 6 },
      events: [{ slug: 'company/product/create/v1', filters: { query: '$', condition: '(x) => { while (true) {} }' } }],
    }));
    await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/healthy'), { association: { company_id: 7 } }));
    const [runaway, healthy] = await Promise.all([publish('company/product/create/v1', { n: 1 }, 6), publish('company/product/create/v1', { n: 2 }, 7)]);
    expect(runaway.status).toBe(202);
    expect(healthy.body.deliveries).toBe(1);
    await receiver.waitFor(1, '/healthy');
    await eventually(async () => {
      const items = (await hookd.call('GET', hookd.p('/delivery?company_id=6'))).body.items;
      return items[0]?.status === 'FILTER_ERROR';
    });
  });
});
