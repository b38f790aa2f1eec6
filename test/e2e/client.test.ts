// The typed client against the real server (every route), the receiver helpers on hookd's own requests, and the
// example project consuming the package through its exports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HookdApiError, HookdClient } from '../../src/client/index.ts';
import { verifyFpSignature, verifyWebhook, WebhookVerificationError } from '../../src/receiver/index.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = `${ROOT}examples/consumer`;

let hookd: TestApp;
let receiver: Receiver;
let client: HookdClient;
beforeAll(async () => {
  hookd = await startTestApp();
  receiver = await startReceiver();
  client = new HookdClient({ url: hookd.url, organizationId: 'org_c', extensionId: 'ext_c' });
});
afterAll(async () => {
  await hookd.close();
  await receiver.close();
});

describe('HookdClient', () => {
  it('round-trips every route', async () => {
    const created = await client.createSubscriber({
      name: 'client',
      webhook_url: receiver.url('/client'),
      association: { company_id: 1 },
      events: [{ slug: 'company/product/create/v1' }],
      retry_policy: { initial_backoff_ms: 100 },
    });
    expect((await client.getSubscriber(created.id)).name).toBe('client');
    expect((await client.listSubscribers({ page_size: 5 })).items.map((s) => s.id)).toContain(created.id);
    const replaced = await client.replaceSubscriber(created.id, {
      name: 'client-2',
      webhook_url: receiver.url('/client'),
      association: { company_id: 1 },
      events: [{ slug: 'company/product/create/v1' }],
    });
    expect(replaced.name).toBe('client-2');
    const { secret } = await client.getSubscriberSecret(created.id);
    expect((await client.pingSubscriber(created.id)).status).toBe('SUCCESS');

    const one = await client.publishEvent(1, { event_slug: 'company/product/create/v1', payload: { n: 1 } }, { idempotencyKey: 'c-1' });
    expect(one).toMatchObject({ deliveries: 1, duplicate: false });
    expect((await client.publishEvent(1, { event_slug: 'company/product/create/v1', payload: {} }, { idempotencyKey: 'c-1' })).duplicate).toBe(true);
    const batch = await client.publishEvents(1, [{ event_slug: 'company/product/create/v1', payload: { n: 2 } }]);
    expect(batch.items).toHaveLength(1);
    expect((await client.getEvent(one.event_id)).id).toBe(one.event_id);
    await receiver.waitFor(3, '/client');

    const deliveries = await client.listDeliveries({ subscriber_id: created.id });
    expect(deliveries.page.item_total).toBe(2);
    const csv = await client.listDeliveriesCsv({ subscriber_id: created.id });
    expect(csv.split('\r\n')[0]).toMatch(/^id,event_id,/);
    const detail = await client.getDelivery(deliveries.items[0]!.id);
    expect(detail.id).toBe(deliveries.items[0]!.id);
    expect((await client.retryDelivery(detail.id)).status).toBe('PENDING');
    expect((await client.retryDeliveries({ start_date: '2000-01-01T00:00:00Z', end_date: '2100-01-01T00:00:00Z' })).queued).toBeGreaterThanOrEqual(0);

    expect((await client.validateFilter({ sample_data: { a: 2 }, filters: { query: '$.a', condition: '(a) => a > 1' } })).filter_result).toBe(true);
    expect((await client.validateReducer({ sample_data: { a: 2 }, reducer: { b: '$.a' } })).reducer_result).toEqual({ b: 2 });
    const saved = await client.saveFilterReducer(1, created.id, { event_slug: 'company/product/create/v1', reducer_configuration: { n: '$.n' } });
    expect(saved.data.reducer).toEqual({ n: '$.n' });

    const range = { start_date: '2026-01-01T00:00:00Z', end_date: '2027-12-31T00:00:00Z', interval: 'day' as const };
    expect(Array.isArray((await client.responseTimeReport(range)).avg_response_time_ts)).toBe(true);
    expect((await client.deliverySummary(range)).delivery_summary).toBeDefined();
    expect(Array.isArray((await client.deliveryTimeSeries(range)).delivery_ts)).toBe(true);

    const rotated = await client.rotateSubscriberSecret(created.id);
    expect(rotated.secret).not.toBe(secret);
    expect((await client.setSubscriberStatus(created.id, 'inactive')).success).toBe(true);
    expect((await client.deleteSubscriber(created.id)).success).toBe(true);
    expect(await client.health()).toEqual({ status: 'ok' });
    expect((await client.ready()).status).toBe('ready');
  });

  it('throws HookdApiError with status, code and message', async () => {
    const err = await client.getSubscriber(987654).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HookdApiError);
    expect(err).toMatchObject({ status: 404, code: 'NOT_FOUND', message: 'subscriber 987654 was not found' });
    const bad = await client.createSubscriber({ name: '', webhook_url: 'x', association: { company_id: 1 }, events: [] }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'VALIDATION_ERROR' });
  });
});

describe('receiver helpers', () => {
  it("accept hookd's own requests and reject tampering, a wrong secret and an old timestamp", async () => {
    const created = await client.createSubscriber({
      name: 'verify',
      webhook_url: receiver.url('/verify'),
      association: { company_id: 1 },
      events: [{ slug: 'company/brand/create/v1' }],
    });
    const { secret } = await client.getSubscriberSecret(created.id);
    await client.publishEvent(1, { event_slug: 'company/brand/create/v1', payload: { brand: 'acme' } });
    const [req] = await receiver.waitFor(1, '/verify');
    const raw = Buffer.from(req!.body);
    expect(verifyWebhook<{ payload: unknown }>(raw, req!.headers, secret).payload).toEqual({ brand: 'acme' });
    expect(verifyFpSignature<{ payload: unknown }>(raw, req!.headers['x-fp-signature'] as string, secret).payload).toEqual({ brand: 'acme' });
    // Headers also as a fetch Headers object.
    expect(verifyWebhook(raw, new Headers(req!.headers as Record<string, string>), secret)).toBeTruthy();

    const tampered = Buffer.from(req!.body.replace('acme', 'evil'));
    expect(() => verifyWebhook(tampered, req!.headers, secret)).toThrow(WebhookVerificationError);
    expect(() => verifyFpSignature(tampered, req!.headers['x-fp-signature'] as string, secret)).toThrow(/does not match/);
    expect(() => verifyWebhook(raw, req!.headers, 'whsec_' + Buffer.alloc(32, 1).toString('base64'))).toThrow(/no webhook-signature matches/);
    const later = (Number(req!.headers['webhook-timestamp']) + 301) * 1000;
    expect(() => verifyWebhook(raw, req!.headers, secret, { now: later })).toThrow(/more than 300 s away/);
    expect(() => verifyWebhook(raw, req!.headers, secret, { now: later, toleranceSeconds: 600 })).not.toThrow();
    expect(() => verifyWebhook(raw, {}, secret)).toThrow(/missing/);
  });
});

describe('example project', () => {
  it('uses hookd through its package exports (types and run time)', async () => {
    if (!existsSync(`${ROOT}dist/client/index.js`)) await run('npm', ['run', 'build'], { cwd: ROOT });
    const link = `${EXAMPLE}/node_modules/hookd`;
    rmSync(`${EXAMPLE}/node_modules`, { recursive: true, force: true });
    mkdirSync(`${EXAMPLE}/node_modules`, { recursive: true });
    symlinkSync(ROOT, link, 'dir');
    try {
      await run(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${EXAMPLE}/tsconfig.json`], { cwd: EXAMPLE });
      const tsx = import.meta.resolve('tsx');
      const { stdout } = await run(process.execPath, [`--import=${tsx}`, 'index.ts'], {
        cwd: EXAMPLE,
        env: { ...process.env, HOOKD_URL: hookd.url, HOOKD_ORGANIZATION: 'org_example', HOOKD_EXTENSION: 'ext_example' },
        timeout: 30_000,
      });
      const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      // Either line can come first: hookd may send the webhook before the publish's answer reaches the example.
      const published = lines.find((l) => 'event_id' in l);
      expect(lines.find((l) => 'verified' in l)).toEqual({ verified: published?.event_id, payload: { id: 42 } });
    } finally {
      rmSync(`${EXAMPLE}/node_modules`, { recursive: true, force: true });
    }
  });
});
