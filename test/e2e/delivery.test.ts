// Delivery end to end: the real app on a SQLite file, real receivers on 127.0.0.1.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { createHmac } from 'node:crypto';
import { eventually, startTestApp, subscriberBody, type TestApp } from '../helpers/app.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { ThreadedSender } from '../../src/delivery/threaded-sender.ts';

let hookd: TestApp;
let receiver: Receiver;

beforeEach(async () => {
  hookd = await startTestApp();
  receiver = await startReceiver();
});
afterEach(async () => {
  await hookd.close();
  await receiver.close();
});

async function subscribe(path: string, overrides: Record<string, unknown> = {}) {
  const res = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url(path), overrides));
  expect(res.status).toBe(201);
  return res.body as { id: number; auth_meta: { secret: string } };
}

const publish = (slug = 'company/product/create/v1', extra: Record<string, unknown> = {}, company = 1) =>
  hookd.call('POST', hookd.p(`/company/${company}/event`), { event_slug: slug, payload: { name: 'shoe', price: 10 }, ...extra });

const delivery = async (id: number) => (await hookd.call('GET', hookd.p(`/delivery/${id}`))).body;

describe('delivery', () => {
  it('fans one event out to every matching subscriber', async () => {
    await subscribe('/a');
    await subscribe('/b', { events: [{ slug: 'company/product/*/v1' }] });
    await subscribe('/c', { events: [{ slug: '*/*/*/*' }] });
    await subscribe('/other', { events: [{ slug: 'company/product/update/v1' }] });
    const res = await publish();
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ deliveries: 3, duplicate: false });
    await receiver.waitFor(3);
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.requests.map((r) => r.path).sort()).toEqual(['/a', '/b', '/c']);
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([res.body.event_id]));
  });

  it('wakes the dispatcher once per published event, for the subscribers it queued deliveries for', async () => {
    const a = await subscribe('/a');
    const b = await subscribe('/b');
    await subscribe('/other', { events: [{ slug: 'company/product/update/v1' }] });
    const woken: number[][] = [];
    const wake = hookd.app.dispatcher!.wake.bind(hookd.app.dispatcher!);
    hookd.app.dispatcher!.wake = (ids) => {
      woken.push([...ids].sort((x, y) => x - y));
      wake(ids);
    };
    expect((await publish()).status).toBe(202);
    await receiver.waitFor(2);
    // Once, when the publish committed (SQLite). A second wake after the 202 only made the dispatcher ask the store
    // again for deliveries it had already claimed.
    expect(woken).toEqual([[a.id, b.id].sort((x, y) => x - y)]);
  });

  it('asks the store once for a subscriber woken twice before its claim round starts', async () => {
    const { id } = await subscribe('/a');
    expect((await publish()).status).toBe(202);
    await receiver.waitFor(1);
    await new Promise((r) => setTimeout(r, 100)); // the round that claimed it is over
    const claim = vi.spyOn(hookd.app.store, 'claim');
    // Two publishes committing before the round their first wake scheduled has started: the round sees both.
    hookd.app.dispatcher!.wake([id]);
    hookd.app.dispatcher!.wake([id]);
    await new Promise((r) => setTimeout(r, 200));
    const asked = claim.mock.calls.filter(([requests]) => requests.some((r) => r.subscriberId === id));
    expect(asked).toHaveLength(1);
  });

  it('boots the sending thread before it starts dispatching, not at the first delivery; an API-only process does not', async () => {
    const boot = vi.spyOn(ThreadedSender.prototype, 'boot');
    try {
      const dispatching = await startTestApp();
      expect(boot).toHaveBeenCalledTimes(1);
      await dispatching.close();
      const api = await startTestApp({ role: 'api' });
      expect(boot).toHaveBeenCalledTimes(1);
      await api.close();
    } finally {
      boot.mockRestore();
    }
  });

  it('fans two event types in to one subscriber', async () => {
    await subscribe('/in', { events: [{ slug: 'company/product/create/v1' }, { slug: 'application/order/*/v1' }] });
    await publish('company/product/create/v1');
    await publish('application/order/placed/v1', { application_id: 'app1' });
    await publish('application/cart/create/v1', { application_id: 'app1' });
    const got = await receiver.waitFor(2, '/in');
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.requests).toHaveLength(2);
    expect(got.map((r) => `${r.json.event.category}/${r.json.event.name}/${r.json.event.type}`).sort()).toEqual([
      'application/order/placed',
      'company/product/create',
    ]);
  });

  it('keeps companies apart and applies criteria', async () => {
    await subscribe('/c1', { association: { company_id: 1 } });
    await subscribe('/c2', { association: { company_id: 2 } });
    await subscribe('/empty', { association: { company_id: 1, criteria: 'EMPTY' } });
    await subscribe('/specific', { association: { company_id: 1, criteria: 'SPECIFIC-EVENTS', application_id: ['app9'] } });
    expect((await publish(undefined, {}, 2)).body.deliveries).toBe(1);
    expect((await publish(undefined, { application_id: 'app1' }, 1)).body.deliveries).toBe(1);
    expect((await publish(undefined, { application_id: 'app9' }, 1)).body.deliveries).toBe(2);
    expect((await publish(undefined, {}, 1)).body.deliveries).toBe(2);
    await receiver.waitFor(6);
    const byPath = (p: string) => receiver.requests.filter((r) => r.path === p).length;
    expect([byPath('/c1'), byPath('/c2'), byPath('/empty'), byPath('/specific')]).toEqual([3, 1, 1, 1]);
  });

  it('sends the envelope signed as Standard Webhooks and x-fp-signature, with custom headers', async () => {
    const { auth_meta } = await subscribe('/signed', { custom_headers: { 'X-Api-Key': 'abc' } });
    const { body: published } = await publish(undefined, { trace_id: ['t-1'], application_id: 'app1' });
    const [req] = await receiver.waitFor(1);
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['user-agent']).toMatch(/^hookd\//);
    expect(req!.headers['x-api-key']).toBe('abc');
    expect(req!.headers['x-fp-event-id']).toBe(published.event_id);
    const verified = new Webhook(auth_meta.secret).verify(req!.body, {
      'webhook-id': String(req!.headers['webhook-id']),
      'webhook-timestamp': String(req!.headers['webhook-timestamp']),
      'webhook-signature': String(req!.headers['webhook-signature']),
    });
    expect(verified).toMatchObject({ company_id: 1, application_id: 'app1', contains: ['name', 'price'], payload: { name: 'shoe', price: 10 } });
    expect(req!.json.event).toMatchObject({ id: published.event_id, name: 'product', type: 'create', category: 'company', version: '1', trace_id: ['t-1'] });
    expect(req!.headers['x-fp-signature']).toBe(createHmac('sha256', auth_meta.secret).update(req!.body).digest('hex'));
  });

  it('sends a non-ASCII body byte for byte to each subscriber, reduced or not, and signs those bytes', async () => {
    // Claimed bodies are UTF-8 bytes shared by an event's deliveries (one event body, one reducer's own body).
    const plain = await subscribe('/utf8-a');
    const other = await subscribe('/utf8-b');
    const reduced = await subscribe('/utf8-reduced', { events: [{ slug: 'company/product/create/v1', reducer: { title: '$.name' } }] });
    const payload = { name: 'Crème brûlée — 東京 🍮', price: 10 };
    expect((await publish(undefined, { payload })).body.deliveries).toBe(3);
    const got = await receiver.waitFor(3);
    const byPath = new Map(got.map((r) => [r.path, r]));
    for (const [path, sub, expected] of [
      ['/utf8-a', plain, payload],
      ['/utf8-b', other, payload],
      ['/utf8-reduced', reduced, { title: payload.name }],
    ] as const) {
      const req = byPath.get(path)!;
      expect(Number(req.headers['content-length'])).toBe(Buffer.byteLength(req.body));
      const verified = new Webhook(sub.auth_meta.secret).verify(req.body, {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      });
      expect(verified).toMatchObject({ payload: expected });
      expect(req.headers['x-fp-signature']).toBe(createHmac('sha256', sub.auth_meta.secret).update(req.body).digest('hex'));
    }
  });

  it('retries after two 500s and keeps the webhook-id', async () => {
    receiver.on('/flaky', (_r, nth) => (nth <= 2 ? { status: 500, body: 'boom' } : { status: 200 }));
    await subscribe('/flaky');
    const { body } = await publish();
    const got = await receiver.waitFor(3, '/flaky');
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([body.event_id]));
    const id = (await hookd.call('GET', hookd.p('/delivery'))).body.items[0].id;
    const d = await eventually(async () => {
      const d = await delivery(id);
      return d.status === 'SUCCESS' && d;
    });
    expect(d.attempt).toBe(3);
    expect(d.attempts.map((a: { response_code: number }) => a.response_code)).toEqual([500, 500, 200]);
    expect(d.attempts[0].response_body).toBe('boom');
    expect(d.attempts[0].error).toBe('HTTP 500');
    const metrics = (await hookd.call('GET', '/metrics')).body as string;
    const sid = d.subscriber_id;
    expect(metrics).toContain(`hookd_delivery_attempts_total{outcome="failure",subscriber_id="${sid}"} 2`);
    expect(metrics).toContain(`hookd_delivery_attempts_total{outcome="success",subscriber_id="${sid}"} 1`);
  });

  it('gives up after max_attempts and marks the delivery DISABLED', async () => {
    receiver.on('/down', () => ({ status: 503 }));
    await subscribe('/down', { retry_policy: { max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 200 } });
    await publish();
    await receiver.waitFor(3, '/down');
    const list = await eventually(async () => {
      const l = (await hookd.call('GET', hookd.p('/delivery?status=DISABLED'))).body;
      return l.items.length === 1 && l;
    });
    expect(list.items[0].attempt).toBe(3);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.requests).toHaveLength(3);
  });

  it('honours Retry-After', async () => {
    receiver.on('/slowdown', (_r, nth) => (nth === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    await subscribe('/slowdown');
    await publish();
    const got = await receiver.waitFor(2, '/slowdown');
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('pauses the whole subscriber after a 503, not only the delivery that got it', async () => {
    receiver.on('/busy', (_r, nth) => (nth === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }));
    await subscribe('/busy', { max_in_flight: 1 });
    for (let i = 0; i < 3; i++) await publish();
    const got = await receiver.waitFor(4, '/busy');
    // the other two deliveries were due at once, yet waited for the Retry-After too
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('hands back what a paused subscriber had claimed ahead, and sends each once right after the pause', async () => {
    receiver.on('/paused', (_r, nth) => (nth === 1 ? { status: 503, headers: { 'retry-after': '3' } } : { status: 200 }));
    await subscribe('/paused', { max_in_flight: 1, timeout_ms: 10_000 });
    for (let i = 0; i < 3; i++) await publish();
    const got = await receiver.waitFor(4, '/paused', 20_000);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(2900);
    // Right after the pause, not when their leases (10 s + 1 s) would have run out.
    expect(got[3]!.at - got[0]!.at).toBeLessThan(6000);
    await new Promise((r) => setTimeout(r, 500));
    const ids = receiver.requests.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(3); // the one that got the 503, again, and the two others once each
    const items = await eventually(async () => {
      const l = (await hookd.call('GET', hookd.p('/delivery'))).body.items as { status: string; attempt: number }[];
      return l.every((d) => d.status === 'SUCCESS') && l;
    });
    expect(items.map((d) => d.attempt).sort()).toEqual([1, 1, 2]);
  });

  it('hands back deliveries claimed ahead that waited out their lease margin behind a slow one, and sends each once', async () => {
    // The test app's lease margin is 1 s, so a claimed delivery must start within 0.5 s; behind 0.8 s answers with
    // max_in_flight 1 the ones claimed ahead are too late, go back to the store and are claimed afresh.
    receiver.on('/slowish', () => ({ delayMs: 800 }));
    await subscribe('/slowish', { max_in_flight: 1, timeout_ms: 10_000 });
    for (let i = 0; i < 3; i++) await publish();
    const got = await receiver.waitFor(3, '/slowish', 20_000);
    // One after another, not when the leases (10 s + 1 s) would have run out.
    expect(got[2]!.at - got[0]!.at).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size).toBe(3);
    expect(receiver.requests).toHaveLength(3);
  });

  it('counts a time-out as a failed attempt', async () => {
    receiver.on('/hang', (_r, nth) => (nth === 1 ? { hang: true } : { status: 200 }));
    await subscribe('/hang', { timeout_ms: 300 });
    await publish();
    await receiver.waitFor(2, '/hang');
    const id = (await hookd.call('GET', hookd.p('/delivery'))).body.items[0].id;
    const d = await eventually(async () => {
      const d = await delivery(id);
      return d.status === 'SUCCESS' && d;
    });
    expect(d.attempts[0]).toMatchObject({ response_code: 0, error: 'timed out after 300 ms' });
    expect(d.attempts[0].response_time).toBeGreaterThanOrEqual(290);
  });

  it('counts a refused connection as a failed attempt', async () => {
    await subscribe('/x', { webhook_url: 'http://127.0.0.1:1/nothing-listens', retry_policy: { max_attempts: 1 } });
    await publish();
    const list = await eventually(async () => {
      const l = (await hookd.call('GET', hookd.p('/delivery?status=DISABLED'))).body;
      return l.items.length === 1 && l;
    });
    const d = await delivery(list.items[0].id);
    expect(d.attempts[0].response_code).toBe(0);
    expect(d.attempts[0].error).toMatch(/ECONNREFUSED/);
  });

  it('does not let a slow subscriber delay a fast one', async () => {
    receiver.on('/slow', () => ({ delayMs: 3000 }));
    await subscribe('/slow', { max_in_flight: 2, timeout_ms: 10000 });
    await subscribe('/fast');
    for (let i = 0; i < 20; i++) await publish();
    const started = Date.now();
    await receiver.waitFor(20, '/fast', 2500);
    expect(Date.now() - started).toBeLessThan(2500);
    // the slow one never has more than max_in_flight attempts open
    expect(receiver.requests.filter((r) => r.path === '/slow').length).toBeLessThanOrEqual(2);
  });

  it('publishes idempotently by body key and by Idempotency-Key header', async () => {
    await subscribe('/once');
    const first = await publish(undefined, { idempotency_key: 'k-1' });
    const again = await publish(undefined, { idempotency_key: 'k-1' });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ event_id: first.body.event_id, deliveries: 1, duplicate: true });
    const viaHeader = await hookd.call('POST', hookd.p('/company/1/event'), { event_slug: 'company/product/create/v1', payload: {} }, { 'idempotency-key': 'k-1' });
    expect(viaHeader.body.event_id).toBe(first.body.event_id);
    const otherCompany = await publish(undefined, { idempotency_key: 'k-1' }, 2);
    expect(otherCompany.body.duplicate).toBe(false);
    await receiver.waitFor(1, '/once');
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.requests).toHaveLength(1);
  });

  it('publishes a batch and delivers every event', async () => {
    await subscribe('/batch');
    const events = Array.from({ length: 50 }, (_, i) => ({ event_slug: 'company/product/create/v1', payload: { i } }));
    const res = await hookd.call('POST', hookd.p('/company/1/event/batch'), { events });
    expect(res.status).toBe(202);
    expect(res.body.items).toHaveLength(50);
    const got = await receiver.waitFor(50, '/batch');
    expect(new Set(got.map((r) => r.json.payload.i)).size).toBe(50);
  });

  it('re-sends a delivery on manual retry', async () => {
    await subscribe('/again');
    await publish();
    await receiver.waitFor(1, '/again');
    const id = (await hookd.call('GET', hookd.p('/delivery'))).body.items[0].id;
    await eventually(async () => (await delivery(id)).status === 'SUCCESS');
    const res = await hookd.call('POST', hookd.p(`/delivery/${id}/retry`));
    expect(res.status).toBe(202);
    await receiver.waitFor(2, '/again');
    await eventually(async () => (await delivery(id)).attempt === 2);
  });

  it('parks deliveries of an inactive subscriber and sends them on re-activation', async () => {
    const { id } = await subscribe('/parked', { status: 'inactive' });
    await publish();
    const list = (await hookd.call('GET', hookd.p('/delivery'))).body;
    expect(list.items[0].status).toBe('RESYNC');
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.requests).toHaveLength(0);
    expect((await hookd.call('PATCH', hookd.p(`/subscriber/${id}`), { status: 'active' })).status).toBe(200);
    await receiver.waitFor(1, '/parked');
  });
});
