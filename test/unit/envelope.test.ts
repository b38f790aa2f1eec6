import { describe, expect, it } from 'vitest';
import { buildEnvelope, serializeEnvelope, type EnvelopeInput } from '../../src/domain/envelope.ts';

const CREATED = Date.UTC(2026, 10, 1, 3, 2, 51, 123);

const input = (over: Partial<EnvelopeInput> = {}): EnvelopeInput => ({
  eventId: 'evt_01JBZ8Q4S5T6V7W8X9Y0Z1A2B3',
  slug: 'application/order/placed/v1',
  createdAt: CREATED,
  traceId: ['trace-1'],
  companyId: 1,
  applicationId: 'app1',
  payload: { order_id: 'FY123', items: [{ sku: 'a' }], total: 10 },
  ...over,
});

describe('buildEnvelope', () => {
  it.each([
    ['application/order/placed/v1', { category: 'application', name: 'order', type: 'placed', version: '1' }],
    ['company/product/create/v3', { category: 'company', name: 'product', type: 'create', version: '3' }],
    ['company/order_item/status-update/v10', { category: 'company', name: 'order_item', type: 'status-update', version: '10' }],
  ])('takes the event name, type, category and version from the slug %s', (slug, fields) => {
    expect(buildEnvelope(input({ slug })).event).toMatchObject(fields);
  });

  it('carries the event id, created_timestamp in epoch ms and trace_id', () => {
    expect(buildEnvelope(input({ traceId: ['t1', 't2'] })).event).toEqual({
      id: 'evt_01JBZ8Q4S5T6V7W8X9Y0Z1A2B3',
      name: 'order',
      type: 'placed',
      category: 'application',
      version: '1',
      created_timestamp: CREATED,
      trace_id: ['t1', 't2'],
    });
  });

  it('keeps an empty trace_id as an empty array', () => {
    expect(buildEnvelope(input({ traceId: [] })).event).toMatchObject({ trace_id: [] });
  });

  it.each([
    [{ order_id: 1, items: [], total: 2 }, ['order_id', 'items', 'total']],
    [{ nested: { deep: 1, deeper: { x: 1 } } }, ['nested']],
    [{}, []],
  ])('lists the top-level payload keys, in order, as contains (%j)', (payload, contains) => {
    expect(buildEnvelope(input({ payload })).contains).toEqual(contains);
  });

  it('carries the payload unchanged', () => {
    const payload = { a: 1, b: { c: [1, 2, 3] } };
    expect(buildEnvelope(input({ payload })).payload).toEqual(payload);
  });

  it('carries company_id and application_id', () => {
    const envelope = buildEnvelope(input({ companyId: 42, applicationId: 'app9' }));
    expect(envelope.company_id).toBe(42);
    expect(envelope.application_id).toBe('app9');
  });

  it('omits application_id for a company-level event (null)', () => {
    const envelope = buildEnvelope(input({ applicationId: null }));
    expect(envelope).not.toHaveProperty('application_id');
    expect(Object.keys(envelope)).toEqual(['event', 'company_id', 'contains', 'payload']);
  });

  it('orders the top-level fields as API.md shows them', () => {
    expect(Object.keys(buildEnvelope(input()))).toEqual(['event', 'company_id', 'application_id', 'contains', 'payload']);
  });
});

describe('serializeEnvelope', () => {
  it.each([
    ['an application event', input()],
    ['a company-level event', input({ applicationId: null, slug: 'company/product/create/v2' })],
    ['unicode and nested payloads', input({ payload: { name: 'café ☕', list: [null, true, 1.5, { x: '"quoted"' }] } })],
  ])('round-trips %s through JSON.parse', (_what, i) => {
    expect(JSON.parse(serializeEnvelope(i))).toEqual(buildEnvelope(i));
  });

  it('produces the exact bytes for a known event', () => {
    const text = serializeEnvelope(
      input({ eventId: 'evt_X', slug: 'company/product/create/v1', createdAt: 1, traceId: [], companyId: 7, applicationId: null, payload: { id: 5 } }),
    );
    expect(text).toBe(
      '{"event":{"id":"evt_X","name":"product","type":"create","category":"company","version":"1","created_timestamp":1,"trace_id":[]},' +
        '"company_id":7,"contains":["id"],"payload":{"id":5}}',
    );
  });
});
