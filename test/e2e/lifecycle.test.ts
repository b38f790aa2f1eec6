// When endpoints fail: blocking with an alert mail, re-activation, bulk retry, 410, ping, secret rotation, retention.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { eventually, startTestApp, subscriberBody, type TestApp } from '../helpers/app.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

interface Mail {
  to: string[];
  body: string;
}

let smtp: SMTPServer;
let smtpUrl: string;
const mails: Mail[] = [];

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onData(stream, session, callback) {
      let body = '';
      stream.on('data', (c: Buffer) => (body += c.toString()));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), body });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
});
afterAll(async () => new Promise<void>((resolve) => smtp.close(() => resolve())));

let hookd: TestApp;
let receiver: Receiver;
beforeEach(async () => {
  hookd = await startTestApp({ smtpUrl });
  receiver = await startReceiver();
});
afterEach(async () => {
  await hookd.close();
  await receiver.close();
});

const publish = (payload: Record<string, unknown> = {}) =>
  hookd.call('POST', hookd.p('/company/1/event'), { event_slug: 'company/product/create/v1', payload });
const subscriber = async (id: number) => (await hookd.call('GET', hookd.p(`/subscriber/${id}`))).body;
const deliveries = async (query = '') => (await hookd.call('GET', hookd.p(`/delivery?page_size=100${query}`))).body.items as any[];

describe('blocking', () => {
  it('blocks a subscriber that keeps failing, parks its queue, mails an alert, and delivers everything once re-activated', async () => {
    let down = true;
    receiver.on('/down', () => (down ? { status: 503 } : { status: 200 }));
    const created = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/down'), {
      email_id: 'ops@example.com',
      max_in_flight: 1,
      retry_policy: { max_attempts: 2, initial_backoff_ms: 100, max_backoff_ms: 100 },
    }));
    const id = created.body.id;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await publish({ i })).body.event_id);

    await eventually(async () => (await subscriber(id)).status === 'blocked', 15_000);
    const mail = await eventually(async () => mails.find((m) => m.to.includes('ops@example.com')));
    expect(mail.body).toContain('Subject: =?UTF-8?Q?=5Bhookd=5D_subscriber');
    expect(mail.body).toContain(`hookd stopped sending to subscriber "test subscriber" (id ${id})`);
    expect(mail.body).toContain(`Webhook URL: ${receiver.url('/down')}`);
    const statuses = (await deliveries()).map((d) => d.status).sort();
    expect(statuses).toContain('DISABLED');
    expect(statuses.filter((s) => s === 'RESYNC').length).toBeGreaterThanOrEqual(1);

    // New events wait too.
    ids.push((await publish({ i: 3 })).body.event_id);
    expect((await deliveries()).find((d) => d.event_id === ids[3]).status).toBe('RESYNC');

    // The endpoint is back; the operator re-activates and retries the one that gave up.
    down = false;
    const before = receiver.requests.length;
    expect((await hookd.call('PATCH', hookd.p(`/subscriber/${id}`), { status: 'active' })).status).toBe(200);
    const retried = await hookd.call('POST', hookd.p('/retry'), { start_date: '2000-01-01T00:00:00Z', end_date: '2100-01-01T00:00:00Z', status: ['DISABLED'] });
    expect(retried.status).toBe(202);
    expect(retried.body.queued).toBe(1);
    await eventually(async () => (await deliveries()).every((d) => d.status === 'SUCCESS'), 15_000);
    const delivered = receiver.requests.slice(before).filter((r) => r.path === '/down');
    expect(delivered.map((r) => r.headers['webhook-id']).sort()).toEqual([...ids].sort());
  });

  it('blocks at once on 410 Gone', async () => {
    receiver.on('/gone', () => ({ status: 410 }));
    const created = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/gone')));
    await publish();
    await eventually(async () => (await subscriber(created.body.id)).status === 'blocked');
    expect(receiver.requests).toHaveLength(1);
    expect((await deliveries())[0]).toMatchObject({ status: 'DISABLED', attempt: 1, response_code: 410 });
  });

  it('does not block a subscriber that succeeded since the failing delivery began', async () => {
    receiver.on('/picky', (r) => (r.json.payload.bad ? { status: 500 } : { status: 200 }));
    const created = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/picky'), { retry_policy: { max_attempts: 3, initial_backoff_ms: 200, max_backoff_ms: 200 } }));
    await publish({ bad: true });
    await receiver.waitFor(1, '/picky');
    await publish({ bad: false });
    await eventually(async () => (await deliveries('&status=DISABLED')).length === 1, 10_000);
    expect((await subscriber(created.body.id)).status).toBe('active');
  });
});

describe('bulk retry', () => {
  it('re-queues by date range, subscriber, slug and status; answers 400 for reversed dates', async () => {
    receiver.on('/a', (_r, nth) => (nth <= 2 ? { status: 500 } : { status: 200 }));
    const a = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/a'), { retry_policy: { max_attempts: 1 } }));
    const b = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/b'), { retry_policy: { max_attempts: 1 } }));
    receiver.on('/b', () => ({ status: 500 }));
    await publish();
    await publish();
    await eventually(async () => (await deliveries('&status=DISABLED')).length === 4);
    // b blocked itself; only a's deliveries are asked for.
    await hookd.call('PATCH', hookd.p(`/subscriber/${a.body.id}`), { status: 'active' });
    const res = await hookd.call('POST', hookd.p('/retry'), {
      start_date: new Date(Date.now() - 60_000).toISOString(),
      end_date: new Date(Date.now() + 60_000).toISOString(),
      subscriber_ids: [a.body.id],
      event_slugs: ['company/product/create/v1'],
    });
    expect(res.body).toEqual({ queued: 2 });
    await eventually(async () => (await deliveries(`&subscriber_id=${a.body.id}&status=SUCCESS`)).length === 2);
    expect((await deliveries(`&subscriber_id=${b.body.id}`)).every((d) => d.status === 'DISABLED')).toBe(true);
    const reversed = await hookd.call('POST', hookd.p('/retry'), { start_date: '2026-11-02T00:00:00Z', end_date: '2026-11-01T00:00:00Z' });
    expect(reversed.status).toBe(400);
    expect((await hookd.call('POST', hookd.p('/retry'), { end_date: '2026-11-01T00:00:00Z' })).status).toBe(400);
  });
});

describe('ping', () => {
  it('sends a signed ping now and reports the outcome', async () => {
    const ok = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/ping')));
    const res = await hookd.call('POST', hookd.p(`/subscriber/${ok.body.id}/ping`));
    expect(res.body).toEqual({ status: 'SUCCESS', code: 200, message: 'HTTP 200', response_time: expect.any(Number) });
    const [req] = await receiver.waitFor(1, '/ping');
    expect(req!.json.event).toMatchObject({ name: 'webhook', type: 'ping', category: 'system' });
    new Webhook(ok.body.auth_meta.secret).verify(req!.body, req!.headers as Record<string, string>);

    const down = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody('http://127.0.0.1:1/nothing'));
    const failed = await hookd.call('POST', hookd.p(`/subscriber/${down.body.id}/ping`));
    expect(failed.body).toMatchObject({ status: 'FAILED', code: 0, message: expect.stringMatching(/ECONNREFUSED/) });
    expect((await hookd.call('POST', hookd.p('/subscriber/999999/ping'))).status).toBe(404);
  });

  it('answers at once while every connection slot is taken by deliveries', async () => {
    await hookd.close();
    hookd = await startTestApp({ smtpUrl, dispatchConcurrency: 1 });
    receiver.on('/hang', () => ({ hang: true }));
    await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/hang'), { timeout_ms: 10_000 }));
    const pinged = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/ping'), { events: [{ slug: 'company/order/create/v1' }] }));
    await publish();
    await publish();
    await receiver.waitFor(1, '/hang'); // the one slot is held for 10 s, the second delivery waits behind it
    const started = Date.now();
    const res = await hookd.call('POST', hookd.p(`/subscriber/${pinged.body.id}/ping`));
    expect(res.body).toMatchObject({ status: 'SUCCESS', code: 200 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('secret rotation', () => {
  it('signs with both the new and the old secret after a rotation', async () => {
    const created = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/rot')));
    const oldSecret = created.body.auth_meta.secret;
    const rotated = await hookd.call('POST', hookd.p(`/subscriber/${created.body.id}/secret/rotate`));
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.secret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    expect((await hookd.call('GET', hookd.p(`/subscriber/${created.body.id}/secret`))).body.secret).toBe(newSecret);
    await publish();
    const [req] = await receiver.waitFor(1, '/rot');
    const headers = req!.headers as Record<string, string>;
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(new Webhook(newSecret).verify(req!.body, headers)).toBeTruthy();
    expect(new Webhook(oldSecret).verify(req!.body, headers)).toBeTruthy();
    expect((await hookd.call('POST', hookd.p('/subscriber/999999/secret/rotate'))).status).toBe(404);
  });
});

describe('retention', () => {
  it('purges old attempts, finished deliveries and events, and leaves recent ones intact', async () => {
    await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(receiver.url('/ret')));
    const old = (await publish({ age: 'old' })).body.event_id;
    await receiver.waitFor(1, '/ret');
    await eventually(async () => (await deliveries('&status=SUCCESS')).length === 1);
    await new Promise((r) => setTimeout(r, 20));
    const boundary = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    const recent = (await publish({ age: 'recent' })).body.event_id;
    await eventually(async () => (await deliveries('&status=SUCCESS')).length === 2);

    // As if 30 days had passed since `boundary`.
    const removed = await hookd.app.dispatcher!.purge(boundary + 30 * 86_400_000);
    expect(removed).toBeGreaterThanOrEqual(3);
    expect((await hookd.call('GET', hookd.p(`/event/${old}`))).status).toBe(404);
    const kept = await hookd.call('GET', hookd.p(`/event/${recent}`));
    expect(kept.status).toBe(200);
    const [d] = kept.body.deliveries;
    expect((await hookd.call('GET', hookd.p(`/delivery/${d.id}`))).body.attempts).toHaveLength(1);
    expect(await deliveries()).toHaveLength(1);
  });
});
