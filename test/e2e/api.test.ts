// The HTTP contract: subscriber CRUD, tenant isolation, bad input answered with clear 4xx and nothing written.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, subscriberBody, tenantPath, type TestApp } from '../helpers/app.ts';

let hookd: TestApp;
const URL_ = 'http://127.0.0.1:9/hook';

beforeAll(async () => {
  hookd = await startTestApp({ role: 'api' });
});
afterAll(async () => hookd.close());

const P = tenantPath();
const OTHER = tenantPath('org_2', 'ext_1');
const OTHER_EXT = tenantPath('org_1', 'ext_2');

async function createSubscriber(overrides: Record<string, unknown> = {}) {
  const res = await hookd.call('POST', `${P}/subscriber`, subscriberBody(URL_, overrides));
  expect(res.status).toBe(201);
  return res.body;
}

describe('subscribers', () => {
  it('creates a subscriber with defaults and returns its secret once', async () => {
    const s = await createSubscriber({ retry_policy: undefined, timeout_ms: undefined });
    expect(s).toMatchObject({
      id: expect.any(Number),
      status: 'active',
      association: { company_id: 1, application_id: [], criteria: 'ALL' },
      retry_policy: { max_attempts: 20, max_age_seconds: 172800, initial_backoff_ms: 5000, max_backoff_ms: 14400000 },
      timeout_ms: 10000,
      max_in_flight: 32,
    });
    expect(s.auth_meta.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const read = await hookd.call('GET', `${P}/subscriber/${s.id}`);
    expect(read.body.auth_meta).toEqual({ type: 'hmac' });
    const list = await hookd.call('GET', `${P}/subscriber`);
    expect(JSON.stringify(list.body)).not.toContain(s.auth_meta.secret);
    expect((await hookd.call('GET', `${P}/subscriber/${s.id}/secret`)).body).toEqual({ secret: s.auth_meta.secret });
  });

  it('replaces a subscriber and keeps its secret unless a new one is given', async () => {
    const s = await createSubscriber();
    const res = await hookd.call('PUT', `${P}/subscriber/${s.id}`, subscriberBody('https://example.com/new', { name: 'renamed', events: [{ slug: 'application/order/*/v1' }] }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'renamed', webhook_url: 'https://example.com/new', events: [{ slug: 'application/order/*/v1', filters: null, reducer: null }] });
    expect((await hookd.call('GET', `${P}/subscriber/${s.id}/secret`)).body.secret).toBe(s.auth_meta.secret);
  });

  it('lists with paging and filters', async () => {
    const fresh = await startTestApp({ role: 'api' });
    try {
      for (let i = 0; i < 3; i++) await fresh.call('POST', `${P}/subscriber`, subscriberBody(URL_, { association: { company_id: 7 } }));
      await fresh.call('POST', `${P}/subscriber`, subscriberBody(URL_, { association: { company_id: 8 }, status: 'inactive' }));
      const page = await fresh.call('GET', `${P}/subscriber?page_no=2&page_size=2`);
      expect(page.body.page).toEqual({ current: 2, size: 2, item_total: 4, has_next: false, type: 'number' });
      expect(page.body.items).toHaveLength(2);
      expect((await fresh.call('GET', `${P}/subscriber?company_id=7`)).body.page.item_total).toBe(3);
      expect((await fresh.call('GET', `${P}/subscriber?status=inactive`)).body.page.item_total).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('changes status and deletes', async () => {
    const s = await createSubscriber();
    expect((await hookd.call('PATCH', `${P}/subscriber/${s.id}`, { status: 'inactive' })).body).toEqual({ success: true, message: `subscriber ${s.id} is inactive` });
    expect((await hookd.call('GET', `${P}/subscriber/${s.id}`)).body.status).toBe('inactive');
    expect((await hookd.call('PATCH', `${P}/subscriber/${s.id}`, { status: 'blocked' })).status).toBe(400);
    expect((await hookd.call('DELETE', `${P}/subscriber/${s.id}`)).body.success).toBe(true);
    expect((await hookd.call('GET', `${P}/subscriber/${s.id}`)).status).toBe(404);
    expect((await hookd.call('DELETE', `${P}/subscriber/${s.id}`)).status).toBe(404);
  });

  it("answers 404 for another tenant's subscriber, event and delivery", async () => {
    const s = await createSubscriber();
    const published = await hookd.call('POST', `${P}/company/1/event`, { event_slug: 'company/product/create/v1', payload: {} });
    const deliveryId = (await hookd.call('GET', `${P}/delivery`)).body.items[0].id;
    for (const other of [OTHER, OTHER_EXT]) {
      for (const [method, path] of [
        ['GET', `/subscriber/${s.id}`],
        ['GET', `/subscriber/${s.id}/secret`],
        ['DELETE', `/subscriber/${s.id}`],
        ['GET', `/event/${published.body.event_id}`],
        ['GET', `/delivery/${deliveryId}`],
        ['POST', `/delivery/${deliveryId}/retry`],
      ] as const) {
        const res = await hookd.call(method, other + path);
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body).toMatchObject({ success: false, code: 'NOT_FOUND' });
      }
      expect((await hookd.call('GET', `${other}/subscriber`)).body.items).toEqual([]);
      expect((await hookd.call('GET', `${other}/delivery`)).body.items).toEqual([]);
    }
    expect((await hookd.call('GET', `${P}/subscriber/${s.id}`)).status).toBe(200);
  });
});

describe('events', () => {
  it('reads an event with its deliveries', async () => {
    const s = await createSubscriber({ events: [{ slug: 'company/brand/create/v1' }] });
    const res = await hookd.call('POST', `${P}/company/1/event`, { event_slug: 'company/brand/create/v1', payload: { a: 1 } });
    const event = (await hookd.call('GET', `${P}/event/${res.body.event_id}`)).body;
    expect(event).toMatchObject({ id: res.body.event_id, event_slug: 'company/brand/create/v1', company_id: 1, body: { payload: { a: 1 } } });
    expect(event.deliveries).toEqual([expect.objectContaining({ subscriber_id: s.id, status: 'PENDING', attempt: 0 })]);
  });
});

describe('bad input', () => {
  let before: string;
  beforeEach(async () => {
    before = JSON.stringify((await hookd.call('GET', `${P}/subscriber?page_size=100`)).body);
  });
  const unchanged = async () => expect(JSON.stringify((await hookd.call('GET', `${P}/subscriber?page_size=100`)).body)).toBe(before);

  it.each([
    ['missing name', { ...subscriberBody(URL_), name: undefined }, /body must have the field 'name'/],
    ['company_id as a string', subscriberBody(URL_, { association: { company_id: '1' } }), /body\.association\.company_id must be integer/],
    ['no events', subscriberBody(URL_, { events: [] }), /body\.events must NOT have fewer than 1 items/],
    ['a bad slug', subscriberBody(URL_, { events: [{ slug: 'Company/x' }] }), /body\.events\[0\]\.slug/],
    ['a repeated slug', subscriberBody(URL_, { events: [{ slug: 'a/b/c/v1' }, { slug: 'a/b/c/v1' }] }), /listed twice/],
    ['an ftp URL', subscriberBody('ftp://example.com/x'), /webhook_url must use http or https/],
    ['not a URL', subscriberBody('example'), /webhook_url must be an absolute http or https URL/],
    ['an unknown criteria', subscriberBody(URL_, { association: { company_id: 1, criteria: 'SOME' } }), /criteria must be one of ALL, EMPTY, SPECIFIC-EVENTS/],
    ['SPECIFIC-EVENTS without applications', subscriberBody(URL_, { association: { company_id: 1, criteria: 'SPECIFIC-EVENTS' } }), /application_id/],
    ['timeout_ms too small', subscriberBody(URL_, { timeout_ms: 5 }), /body\.timeout_ms must be >= 100/],
    ['max_in_flight too large', subscriberBody(URL_, { max_in_flight: 5000 }), /body\.max_in_flight must be <= 1000/],
    ['a reserved custom header', subscriberBody(URL_, { custom_headers: { 'Webhook-Signature': 'x' } }), /cannot be overridden/],
    ['a header value with a newline', subscriberBody(URL_, { custom_headers: { 'x-a': 'a\r\nb: c' } }), /not allowed in a header value/],
    ['backoff bounds reversed', subscriberBody(URL_, { retry_policy: { initial_backoff_ms: 5000, max_backoff_ms: 1000 } }), /initial_backoff_ms/],
    ['a bad email', subscriberBody(URL_, { email_id: 'not-an-email' }), /body\.email_id/],
  ])('rejects a subscriber with %s (400, nothing written)', async (_name, body, message) => {
    const res = await hookd.call('POST', `${P}/subscriber`, body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ success: false, message: expect.stringMatching(message), code: 'VALIDATION_ERROR' });
    await unchanged();
  });

  it.each([
    ['a filter with a bad JSONPath', { filters: { query: '$[?@.x >', condition: '(x) => true' } }, /body\.events\[0\]\.filters\.query: invalid JSONPath/],
    ['a filter whose condition is not a function', { filters: { query: '$.x', condition: '42' } }, /body\.events\[0\]\.filters\.condition: .*not a function/],
    ['a reducer with a bad JSONPath', { reducer: { a: '$..[' } }, /body\.events\[0\]\.reducer\.a: invalid JSONPath/],
  ])('rejects a subscriber with %s (422, nothing written)', async (_name, rules, message) => {
    const res = await hookd.call('POST', `${P}/subscriber`, subscriberBody(URL_, { events: [{ slug: 'a/b/c/v1', ...rules }] }));
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ success: false, message: expect.stringMatching(message), code: 'INVALID_CONFIGURATION' });
    await unchanged();
  });

  it('answers malformed JSON with 400', async () => {
    const res = await hookd.call('POST', `${P}/subscriber`, '{"name": ');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ success: false, message: 'the body is not valid JSON', code: 'INVALID_JSON' });
    await unchanged();
  });

  it('answers a body that is not JSON with 415', async () => {
    const res = await hookd.call('POST', `${P}/subscriber`, 'name=x', { 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    expect(res.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    await unchanged();
  });

  it('answers a body over 1 MiB with 413', async () => {
    const res = await hookd.call('POST', `${P}/company/1/event`, { event_slug: 'a/b/c/v1', payload: { big: 'x'.repeat(1024 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it.each([
    ['a bad slug', { event_slug: 'nope', payload: {} }, /body\.event_slug "nope" must have four segments/],
    ['a payload that is not an object', { event_slug: 'a/b/c/v1', payload: [1] }, /body\.payload must be object/],
    ['no payload', { event_slug: 'a/b/c/v1' }, /body must have the field 'payload'/],
  ])('rejects an event with %s', async (_name, body, message) => {
    const res = await hookd.call('POST', `${P}/company/1/event`, body);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
  });

  it('rejects a batch whole when one event is bad', async () => {
    const before = (await hookd.call('GET', `${P}/delivery?page_size=1`)).body.page.item_total;
    await createSubscriber({ events: [{ slug: 'a/b/c/v1' }] });
    const res = await hookd.call('POST', `${P}/company/1/event/batch`, { events: [{ event_slug: 'a/b/c/v1', payload: {} }, { event_slug: 'bad', payload: {} }] });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/body\.events\[1\]\.event_slug/);
    expect((await hookd.call('GET', `${P}/delivery?page_size=1`)).body.page.item_total).toBe(before);
  });

  it.each([
    ['a non-numeric id', `${P}/subscriber/abc`, 400],
    ['an id of zero', `${P}/subscriber/0`, 400],
    ['an unknown id', `${P}/subscriber/999999`, 404],
    ['SQL in an id', `${P}/subscriber/1%20OR%201=1`, 400],
    ['a bad organization id', `/service/partner/webhook/v1.0/organization/a.b/extension/x/subscriber`, 400],
    ['an unknown delivery', `${P}/delivery/424242`, 404],
    ['an unknown event', `${P}/event/evt_00000000000000000000000000`, 404],
    ['an unknown route', `${P}/nothing`, 404],
  ])('answers %s with %i', async (_name, path, status) => {
    const res = await hookd.call('GET', path);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ success: false, message: expect.any(String), code: expect.any(String) });
  });

  it('answers a body nested deeper than 64 levels with 400', async () => {
    let deep: unknown = { leaf: true };
    for (let i = 0; i < 200; i++) deep = { deep };
    const res = await hookd.call('POST', `${P}/company/1/event`, { event_slug: 'a/b/c/v1', payload: deep });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('body is nested deeper than 64 levels');
    const arrays = await hookd.call('POST', `${P}/company/1/event`, `{"event_slug":"a/b/c/v1","payload":{"x":${'['.repeat(100000)}${']'.repeat(100000)}}}`);
    expect(arrays.status).toBe(400);
    expect((await hookd.call('GET', '/healthz')).status).toBe(200);
  });

  it('refuses __proto__ keys (prototype poisoning) with 400', async () => {
    const res = await hookd.call('POST', `${P}/company/1/event`, '{"event_slug":"a/b/c/v1","payload":{"__proto__":{"polluted":true}}}');
    expect(res.status).toBe(400);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('rejects reversed dates in the delivery listing', async () => {
    const res = await hookd.call('GET', `${P}/delivery?start_date=2026-11-02T00:00:00Z&end_date=2026-11-01T00:00:00Z`);
    expect(res.status).toBe(400);
  });
});

describe('service endpoints', () => {
  it('reports health, readiness, metrics and the OpenAPI description', async () => {
    expect((await hookd.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await hookd.call('GET', '/readyz')).status).toBe(200);
    const metrics = await hookd.call('GET', '/metrics');
    expect(metrics.body).toContain('hookd_events_published_total');
    expect(metrics.body).toContain('hookd_delivery_duration_seconds');
    expect(metrics.body).toMatch(/^hookd_queue_depth \d+$/m);
    const openapi = (await hookd.call('GET', '/openapi.json')).body;
    expect(openapi.openapi).toBe('3.1.0');
    const paths = Object.keys(openapi.paths);
    expect(paths).toContain('/service/partner/webhook/v1.0/organization/{organization_id}/extension/{extension_id}/subscriber');
    expect(paths).toContain('/service/partner/webhook/v1.0/organization/{organization_id}/extension/{extension_id}/company/{company_id}/event/batch');
    expect((await hookd.call('GET', '/docs')).status).toBeLessThan(400);
  });
});

describe('publish rate limit', () => {
  it('answers 429 with Retry-After past the per-organization rate, and other organizations are not affected', async () => {
    const limited = await startTestApp({ role: 'api', publishRateLimit: 5 });
    try {
      const publish = (org = 'org_1') => limited.call('POST', `${tenantPath(org)}/company/1/event`, { event_slug: 'a/b/c/v1', payload: {} });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await publish()).status);
      expect(statuses.slice(0, 10).every((s) => s === 202)).toBe(true);
      const refused = await publish();
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ success: false, code: 'RATE_LIMITED', message: expect.stringContaining('5 events per second') });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await publish('org_2')).status).toBe(202);
      const batch = await limited.call('POST', `${tenantPath('org_3')}/company/1/event/batch`, { events: Array.from({ length: 11 }, () => ({ event_slug: 'a/b/c/v1', payload: {} })) });
      expect(batch.status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
