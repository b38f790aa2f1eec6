import { describe, expect, it } from 'vitest';
import { attemptHeaders, isReservedHeader, signingContext } from '../../src/delivery/request.ts';
import { signFp } from '../../src/signing/fp-signature.ts';
import { signingKey, signStandard } from '../../src/signing/standard-webhooks.ts';
import { DEFAULT_RETRY_POLICY, type Subscriber } from '../../src/domain/types.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const EVENT_ID = 'evt_01JBZ8Q4S5T6V7W8X9Y0Z1A2B3';
const BODY = '{"event":{"id":"evt_01JBZ8Q4S5T6V7W8X9Y0Z1A2B3"},"company_id":1,"contains":[],"payload":{}}';
const NOW = 1614265330_789; // ms; 1614265330 s
const UA = 'hookd/0.1.0';

const subscriber = (over: Partial<Subscriber> = {}): Subscriber => ({
  id: 7,
  organization_id: 'org1',
  extension_id: 'ext1',
  created_on: '2026-11-01T00:00:00.000Z',
  updated_on: '2026-11-01T00:00:00.000Z',
  last_success_on: null,
  last_failure_on: null,
  name: 'orders-sync',
  webhook_url: 'https://example.com/hooks',
  association: { company_id: 1, application_id: [], criteria: 'ALL' },
  events: [{ slug: 'company/product/create/v1', filters: null, reducer: null }],
  custom_headers: {},
  auth_meta: { type: 'hmac', secret: SECRET },
  email_id: null,
  status: 'active',
  retry_policy: DEFAULT_RETRY_POLICY,
  timeout_ms: 10000,
  max_in_flight: 32,
  ...over,
});

const headersFor = (over: Partial<Subscriber> = {}, nowMs = NOW) =>
  attemptHeaders(signingContext(subscriber(over)), EVENT_ID, BODY, UA, nowMs);

describe('attemptHeaders', () => {
  it('sends every header API.md lists, and no others without custom headers', () => {
    expect(headersFor()).toEqual({
      'content-type': 'application/json',
      'user-agent': UA,
      'webhook-id': EVENT_ID,
      'webhook-timestamp': '1614265330',
      'webhook-signature': signStandard(signingKey(SECRET), EVENT_ID, 1614265330, BODY),
      'x-fp-event-id': EVENT_ID,
      'x-fp-signature': signFp(SECRET, BODY),
    });
  });

  it.each([
    [1614265330_000, '1614265330'],
    [1614265330_999, '1614265330'],
    [1614265331_000, '1614265331'],
    [0, '0'],
  ])('sets webhook-timestamp to the whole seconds of now (%i ms → %s)', (nowMs, expected) => {
    expect(headersFor({}, nowMs)['webhook-timestamp']).toBe(expected);
  });

  it('signs webhook-signature with the same timestamp it sends', () => {
    const a = headersFor({}, 1_700_000_000_000);
    const b = headersFor({}, 1_700_000_001_000);
    expect(a['webhook-signature']).toBe(signStandard(signingKey(SECRET), EVENT_ID, 1_700_000_000, BODY));
    expect(b['webhook-signature']).not.toBe(a['webhook-signature']);
    expect(b['x-fp-signature']).toBe(a['x-fp-signature']);
  });

  it('uses the event id for webhook-id and x-fp-event-id on every attempt', () => {
    for (const now of [NOW, NOW + 5000, NOW + 3_600_000]) {
      const h = headersFor({}, now);
      expect(h['webhook-id']).toBe(EVENT_ID);
      expect(h['x-fp-event-id']).toBe(EVENT_ID);
    }
  });

  it('signs with the UTF-8 bytes of a non-whsec secret', () => {
    const secret = 'plain-secret';
    const h = headersFor({ auth_meta: { type: 'hmac', secret } });
    expect(h['webhook-signature']).toBe(signStandard(Buffer.from(secret, 'utf8'), EVENT_ID, 1614265330, BODY));
    expect(h['x-fp-signature']).toBe(signFp(secret, BODY));
  });

  it('adds custom headers with lower-cased names', () => {
    const h = headersFor({ custom_headers: { 'X-Api-Key': 'abc', Authorization: 'Bearer t', 'x-plain': 'p' } });
    expect(h).toMatchObject({ 'x-api-key': 'abc', authorization: 'Bearer t', 'x-plain': 'p' });
    expect(h).not.toHaveProperty('X-Api-Key');
    expect(h).not.toHaveProperty('Authorization');
  });

  it.each([
    'content-type',
    'Content-Type',
    'user-agent',
    'USER-AGENT',
    'webhook-id',
    'Webhook-Timestamp',
    'webhook-signature',
    'X-Fp-Event-Id',
    'x-fp-signature',
  ])('does not let a custom header %j override a reserved one', (name) => {
    const expected = headersFor();
    const h = headersFor({ custom_headers: { [name]: 'forged' } });
    expect(h).toEqual(expected);
    expect(Object.values(h)).not.toContain('forged');
  });

  it.each(['content-length', 'Host', 'connection', 'Transfer-Encoding'])('drops the framing header %j from custom headers', (name) => {
    const h = headersFor({ custom_headers: { [name]: 'x' } });
    expect(h).not.toHaveProperty(name.toLowerCase());
    expect(h).not.toHaveProperty(name);
  });
});

describe('isReservedHeader', () => {
  it.each([
    ['webhook-signature', true],
    ['WEBHOOK-SIGNATURE', true],
    ['x-fp-signature', true],
    ['Content-Length', true],
    ['x-api-key', false],
    ['authorization', false],
    ['webhook-signature-extra', false],
  ] as const)('%s → %s', (name, expected) => {
    expect(isReservedHeader(name)).toBe(expected);
  });
});
