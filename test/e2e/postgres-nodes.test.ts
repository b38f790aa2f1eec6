// Several hookd processes on one PostgreSQL database: both deliver, nothing acknowledged is lost when one is
// SIGKILLed, and a filter saved on one node applies to the next event published on the other.
// Without PostgreSQL the suite is skipped with a warning, except under CI=true, where that is a failure.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, eventually, subscriberBody, tenantPath } from '../helpers/app.ts';
import { startHookd, type HookdProcess } from '../helpers/process.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

const ADMIN_URL = process.env.HOOKD_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const database = `hookd_nodes_${randomBytes(5).toString('hex')}`;
const databaseUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${database}` }).toString();

async function reachable(): Promise<string | null> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.end().catch(() => {});
  }
}

const problem = await reachable();
if (problem && process.env.CI !== 'true') console.warn(`PostgreSQL multi-node suite skipped: ${ADMIN_URL} does not answer (${problem})`);
const suite = problem && process.env.CI !== 'true' ? describe.skip : describe;

const P = tenantPath('org_pg', 'ext_pg');
const nodes: HookdProcess[] = [];
let receiver: Receiver;

async function node(extra: Record<string, string> = {}): Promise<HookdProcess> {
  const p = await startHookd({
    HOOKD_DATABASE_URL: databaseUrl,
    HOOKD_ALLOW_PRIVATE_NETWORKS: 'true',
    // Long enough that a lease never runs out under a loaded test machine while its node still works on it.
    HOOKD_LEASE_MARGIN_MS: '5000',
    HOOKD_PUBLISH_RATE_LIMIT: '0',
    HOOKD_LOG_LEVEL: 'info',
    ...extra,
  });
  nodes.push(p);
  return p;
}

const attemptsBy = async (n: HookdProcess) => {
  const text = (await client(n.url).call('GET', '/metrics')).body as string;
  return [...text.matchAll(/^hookd_delivery_attempts_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
};

suite('hookd on PostgreSQL, several processes', () => {
  beforeAll(async () => {
    if (problem) throw new Error(`PostgreSQL does not answer at ${ADMIN_URL}: ${problem}`);
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    receiver = await startReceiver();
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) n.child.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exited));
    await receiver?.close();
    if (problem) return;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }, 60_000);

  it('delivers from both nodes, loses nothing when one is SIGKILLed, and shares filters across nodes', { timeout: 120_000 }, async () => {
    // Both start at once: migrations take turns under the advisory lock.
    const [one, two] = await Promise.all([node(), node()]);
    const api1 = client(one.url);
    const api2 = client(two.url);
    receiver.on('/pg', () => ({ delayMs: 20 }));
    const sub = await api1.call('POST', `${P}/subscriber`, subscriberBody(receiver.url('/pg'), { max_in_flight: 8, timeout_ms: 2000 }));
    expect(sub.status).toBe(201);

    const acknowledged: string[] = [];
    const publishSome = async (n: number, api: typeof api1) => {
      const events = Array.from({ length: n }, (_, i) => ({ event_slug: 'company/product/create/v1', payload: { i } }));
      const res = await api.call('POST', `${P}/company/1/event/batch`, { events });
      expect(res.status).toBe(202);
      acknowledged.push(...res.body.items.map((r: { event_id: string }) => r.event_id));
    };
    for (let i = 0; i < 5; i++) {
      await publishSome(40, api1);
      await publishSome(40, api2);
    }
    await receiver.waitFor(100, '/pg', 30_000);
    const dupBefore = receiver.requests.length - new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size;
    console.log('duplicates before the kill', dupBefore, 'of', receiver.requests.length);
    one.child.kill('SIGKILL');
    await one.exited;
    await publishSome(40, api2);

    const seen = () => new Set(receiver.requests.filter((r) => r.path === '/pg').map((r) => r.headers['webhook-id']));
    await eventually(async () => acknowledged.every((id) => seen().has(id)), 60_000, 200);
    const duplicates = receiver.requests.filter((r) => r.path === '/pg').length - seen().size;
    console.log(`postgres nodes: ${acknowledged.length} events acknowledged, all delivered, ${duplicates} duplicates`);
    // At-least-once: what the killed node had in flight or answered but not yet written goes out again. A subscriber
    // starts nothing while those two reach 2 × max_in_flight (16), however slow the writes get on a loaded machine.
    expect(duplicates).toBeLessThanOrEqual(16);
    expect(await attemptsBy(two)).toBeGreaterThan(0);

    // A filter saved on one node applies to the next event published on another.
    const three = await node();
    const api3 = client(three.url);
    const filterSub = await api2.call('POST', `${P}/subscriber`, subscriberBody(receiver.url('/filtered'), { association: { company_id: 2 } }));
    expect((await api3.call('POST', `${P}/company/2/event`, { event_slug: 'company/product/create/v1', payload: { tier: 'gold' } })).body.deliveries).toBe(1);
    const saved = await api2.call('PUT', `${P}/company/2/subscriber/${filterSub.body.id}/filter_reducer`, {
      event_slug: 'company/product/create/v1',
      filter_configuration: { query: '$.tier', condition: "(t) => t === 'platinum'" },
    });
    expect(saved.status).toBe(200);
    // NOTIFY is asynchronous: give it a moment to reach node 3 before its next publish.
    await eventually(async () => {
      const res = await api3.call('POST', `${P}/company/2/event`, { event_slug: 'company/product/create/v1', payload: { tier: 'gold' } });
      return res.body.deliveries === 0;
    }, 5000, 100);
    expect((await api3.call('POST', `${P}/company/2/event`, { event_slug: 'company/product/create/v1', payload: { tier: 'platinum' } })).body.deliveries).toBe(1);

    // Both surviving nodes dispatch (metrics count attempts per process).
    for (let i = 0; i < 4; i++) await publishSome(50, i % 2 ? api2 : api3);
    await eventually(async () => acknowledged.every((id) => seen().has(id)), 60_000, 200);
    expect(await attemptsBy(three)).toBeGreaterThan(0);
    expect(await attemptsBy(two)).toBeGreaterThan(0);
  });
});
