// Nothing acknowledged is lost: restarts, SIGKILL mid-delivery, and SIGTERM's graceful hand-over.
import { afterEach, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { client, startTestApp, subscriberBody, tempDir, tenantPath, eventually } from '../helpers/app.ts';
import { startHookd, type HookdProcess } from '../helpers/process.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const env = (dbPath: string, extra: Record<string, string> = {}) => ({
  HOOKD_DATABASE_URL: `sqlite:${dbPath}`,
  HOOKD_ALLOW_PRIVATE_NETWORKS: 'true',
  HOOKD_LEASE_MARGIN_MS: '500',
  ...extra,
});

async function receiverFor(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

async function hookdProcess(dbPath: string, extra: Record<string, string> = {}): Promise<HookdProcess> {
  const p = await startHookd(env(dbPath, extra));
  cleanups.push(() => void p.child.kill('SIGKILL'));
  return p;
}

describe('durability', () => {
  it('resumes queued deliveries after a restart', async () => {
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const receiver = await receiverFor();
    // An API-only node accepts the events; nothing is sent while it runs.
    const api = await startTestApp({ role: 'api' }, dir);
    await api.call('POST', api.p('/subscriber'), subscriberBody(receiver.url('/r')));
    for (let i = 0; i < 5; i++) {
      expect((await api.call('POST', api.p('/company/1/event'), { event_slug: 'company/product/create/v1', payload: { i } })).status).toBe(202);
    }
    await api.close({ keepFiles: true });
    expect(receiver.requests).toHaveLength(0);
    // A full node started on the same file delivers them.
    const node = await startTestApp({}, dir);
    cleanups.push(() => node.close({ keepFiles: true }));
    const got = await receiver.waitFor(5, '/r');
    expect(new Set(got.map((r) => r.json.payload.i))).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it('delivers every acknowledged event after a SIGKILL during delivery', async () => {
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dbPath = join(dir, 'hookd.db');
    const receiver = await receiverFor();
    receiver.on('/k', () => ({ delayMs: 100 }));
    const first = await hookdProcess(dbPath);
    const api = client(first.url);
    const P = tenantPath();
    await api.call('POST', `${P}/subscriber`, subscriberBody(receiver.url('/k'), { max_in_flight: 4, timeout_ms: 1000 }));
    const acknowledged: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await api.call('POST', `${P}/company/1/event`, { event_slug: 'company/product/create/v1', payload: { i } });
      expect(res.status).toBe(202);
      acknowledged.push(res.body.event_id);
    }
    await receiver.waitFor(4, '/k');
    first.child.kill('SIGKILL');
    await first.exited;
    const before = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
    expect(before.size).toBeLessThan(40);

    await hookdProcess(dbPath);
    await eventually(async () => {
      const seen = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
      return acknowledged.every((id) => seen.has(id));
    }, 20_000);
  });

  it('finishes in-flight attempts on SIGTERM and records them', async () => {
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dbPath = join(dir, 'hookd.db');
    const receiver = await receiverFor();
    receiver.on('/t', () => ({ delayMs: 800 }));
    const node = await hookdProcess(dbPath);
    const api = client(node.url);
    const P = tenantPath();
    await api.call('POST', `${P}/subscriber`, subscriberBody(receiver.url('/t')));
    await api.call('POST', `${P}/company/1/event`, { event_slug: 'company/product/create/v1', payload: {} });
    await receiver.waitFor(1, '/t');
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);

    const after = await startTestApp({ role: 'api' }, dir);
    cleanups.push(() => after.close({ keepFiles: true }));
    const list = (await after.call('GET', after.p('/delivery'))).body;
    expect(list.items[0]).toMatchObject({ status: 'SUCCESS', attempt: 1, response_code: 200 });
    expect(receiver.requests).toHaveLength(1);
  });
});
