// Faults at real receivers on 127.0.0.1: one flaky subscriber — 30 % HTTP 500, 10 % hangs past its 300 ms
// time-out, 5 % connection resets, the rest 200 — next to two healthy ones. Every (event, subscriber) pair
// arrives with a 2xx within the retry policy, none is lost, every attempt is recorded, and the healthy
// subscribers' publish → receipt latency stays within 2× of a clean run of the same workload.
//
// The faults are not random: the fate of attempt k of event i is drawn from a PRNG seeded with (SEED, i, k), so
// every run sees exactly the same faults, whatever order the attempts arrive in.
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startTestApp, subscriberBody, type TestApp } from '../helpers/app.ts';
import { startReceiver, type Receiver, type Reply } from '../helpers/receiver.ts';

const EVENTS = 200;
const SLUG = 'company/product/create/v1';
const TIMEOUT_MS = 300;
// 100 ms is the API's smallest backoff (API.md: "at least 100 ms"); 500 ms caps it so the test stays short.
const POLICY = { max_attempts: 20, initial_backoff_ms: 100, max_backoff_ms: 500, max_age_seconds: 600 };
const SEED = 20261128;

type Fate = 'ok' | 'error' | 'hang' | 'reset';

/** mulberry32: a tiny seeded PRNG (one draw per seed is all we need). */
function draw(seed: number): number {
  const a = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(a ^ (a >>> 15), 1 | a);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** What the flaky receiver does with attempt `k` (1-based) of event `i`: the same on every run. */
function fate(i: number, k: number): Fate {
  const u = draw(SEED ^ Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(k, 0x85ebca6b));
  if (u < 0.3) return 'error';
  if (u < 0.4) return 'hang';
  if (u < 0.45) return 'reset';
  return 'ok';
}

const REPLIES: Record<Fate, Reply> = {
  ok: { status: 200 },
  error: { status: 500, body: 'flaky' },
  hang: { hang: true },
  reset: { reset: true },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

interface RunResult {
  hookd: TestApp;
  healthyLatencies: number[];
  healthy: Receiver;
  flaky: Receiver | undefined;
  /** webhook-id → the fates of its attempts at the flaky receiver, in arrival order. */
  fates: Map<string, Fate[]>;
  eventIds: string[];
  subscriberIds: { a: number; b: number; flaky?: number };
}

/** One workload: EVENTS events published at a steady pace to two healthy subscribers (and the flaky one). */
async function run(withFlaky: boolean): Promise<RunResult> {
  const hookd = await startTestApp();
  cleanups.push(() => hookd.close());
  // Separate servers (origins) for the healthy and the flaky subscribers, as in real life.
  const healthy = await startReceiver();
  cleanups.push(() => healthy.close());
  const fates = new Map<string, Fate[]>();
  let flaky: Receiver | undefined;
  if (withFlaky) {
    flaky = await startReceiver();
    cleanups.push(() => flaky!.close());
    flaky.on('/flaky', (req) => {
      const id = String(req.headers['webhook-id']);
      const seen = fates.get(id) ?? [];
      const f = fate(req.json.payload.i as number, seen.length + 1);
      seen.push(f);
      fates.set(id, seen);
      return REPLIES[f];
    });
  }

  const subscribe = async (url: string, timeoutMs: number) => {
    const res = await hookd.call('POST', hookd.p('/subscriber'), subscriberBody(url, { retry_policy: POLICY, timeout_ms: timeoutMs }));
    expect(res.status).toBe(201);
    return res.body.id as number;
  };
  // The healthy subscribers get a roomy time-out: on a loaded machine a 300 ms one could expire on a healthy
  // answer and turn into a (legitimate, at-least-once) second delivery, which is not what this test is about.
  const subscriberIds = {
    a: await subscribe(healthy.url('/a'), 5000),
    b: await subscribe(healthy.url('/b'), 5000),
    ...(flaky ? { flaky: await subscribe(flaky.url('/flaky'), TIMEOUT_MS) } : {}),
  };

  // A steady 100 events/s: the latency measured is the dispatcher's, not a backlog's.
  const sentAt: number[] = [];
  const eventIds: string[] = [];
  const start = Date.now();
  for (let i = 0; i < EVENTS; i++) {
    const due = start + i * 10;
    if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
    sentAt[i] = Date.now();
    const res = await hookd.call('POST', hookd.p('/company/1/event'), { event_slug: SLUG, payload: { i } });
    expect(res.status).toBe(202);
    expect(res.body.deliveries).toBe(withFlaky ? 3 : 2);
    eventIds.push(res.body.event_id);
  }

  await eventually(async () => new Set(healthy.requests.map((r) => `${r.path} ${r.json.payload.i}`)).size === 2 * EVENTS, 20_000, 50);
  if (flaky) {
    await eventually(async () => eventIds.every((id) => fates.get(id)?.includes('ok')), 40_000, 100);
  }
  // Latency of the first arrival of each (event, healthy subscriber).
  const first = new Map<string, number>();
  for (const r of healthy.requests) {
    const key = `${r.path} ${r.json.payload.i}`;
    if (!first.has(key)) first.set(key, r.at - sentAt[r.json.payload.i as number]!);
  }
  const healthyLatencies = [...first.values()].sort((x, y) => x - y);
  return { hookd, healthyLatencies, healthy, flaky, fates, eventIds, subscriberIds };
}

async function deliveriesOf(hookd: TestApp, subscriberId: number) {
  const items: { id: number; event_id: string; status: string; attempt: number }[] = [];
  for (let page = 1; ; page++) {
    const res = await hookd.call('GET', hookd.p(`/delivery?subscriber_id=${subscriberId}&page_size=100&page_no=${page}`));
    items.push(...res.body.items);
    if (!res.body.page.has_next) return items;
  }
}

describe('faults at the receivers', () => {
  it('the seeded faults are as advertised and always leave room within the retry policy', () => {
    const counts: Record<Fate, number> = { ok: 0, error: 0, hang: 0, reset: 0 };
    let worst = 0;
    for (let i = 0; i < EVENTS; i++) {
      for (let k = 1; k <= 20; k++) counts[fate(i, k)]++;
      let k = 1;
      while (fate(i, k) !== 'ok') k++;
      worst = Math.max(worst, k);
    }
    const total = EVENTS * 20;
    expect(counts.error / total).toBeCloseTo(0.3, 1);
    expect(counts.hang / total).toBeCloseTo(0.1, 1);
    expect(counts.reset / total).toBeCloseTo(0.05, 1);
    // The unluckiest event needs `worst` attempts: well within max_attempts 20.
    expect(worst).toBeLessThanOrEqual(POLICY.max_attempts / 2);
  });

  it('delivers every pair despite 500s, hangs and resets, and the healthy subscribers keep their pace', async () => {
    // Clean runs — the same workload without the flaky subscriber — before and after the faulty one; the slower
    // of the two is the reference, so a moment of load elsewhere on the machine does not skew the comparison.
    const cleanRun = async () => {
      const clean = await run(false);
      for (const c of cleanups.splice(0).reverse()) await c();
      return { p50: percentile(clean.healthyLatencies, 50), p95: percentile(clean.healthyLatencies, 95) };
    };
    const before = await cleanRun();
    const faulty = await run(true);
    const { hookd, healthy, fates, eventIds, subscriberIds } = faulty;

    // Every (event, subscriber) pair arrived with a 2xx: each healthy path got every event (the healthy receiver
    // always answers 200), and the flaky one answered 200 to some attempt of every event.
    for (const path of ['/a', '/b']) {
      const ids = healthy.requests.filter((r) => r.path === path).map((r) => String(r.headers['webhook-id']));
      expect(new Set(ids), path).toEqual(new Set(eventIds));
    }
    const healthyDuplicates = healthy.requests.length - 2 * EVENTS;
    for (const id of eventIds) expect(fates.get(id), id).toContain('ok');

    // No pair is lost and each is within policy: all 3 × EVENTS deliveries are SUCCESS, none took more than
    // max_attempts, and every attempt the flaky receiver saw is recorded — as many as it saw, no more.
    await eventually(async () => {
      const res = await hookd.call('GET', hookd.p('/delivery?status=SUCCESS&page_size=1'));
      return res.body.page.item_total === 3 * EVENTS;
    }, 10_000);
    for (const status of ['PENDING', 'FAILED', 'DISABLED', 'RESYNC', 'FILTER_ERROR']) {
      expect((await hookd.call('GET', hookd.p(`/delivery?status=${status}&page_size=1`))).body.page.item_total, status).toBe(0);
    }
    const flakyDeliveries = await deliveriesOf(hookd, subscriberIds.flaky!);
    expect(flakyDeliveries).toHaveLength(EVENTS);
    for (const d of flakyDeliveries) {
      expect(d.attempt, d.event_id).toBeLessThanOrEqual(POLICY.max_attempts);
      expect(d.attempt, d.event_id).toBe(fates.get(d.event_id)!.length);
    }
    // The attempt log tells the faults apart: a 500 is recorded as such, a hang or a reset as code 0.
    const sample = flakyDeliveries.find((d) => fates.get(d.event_id)!.includes('hang') && fates.get(d.event_id)!.includes('reset'))
      ?? flakyDeliveries.find((d) => d.attempt > 1)!;
    const detail = (await hookd.call('GET', hookd.p(`/delivery/${sample.id}`))).body;
    const expectedCodes: number[] = fates.get(sample.event_id)!.map((f) => (f === 'ok' ? 200 : f === 'error' ? 500 : 0));
    // An answer that came after the 300 ms deadline (a loaded machine) is a time-out to hookd, whatever it said.
    const recorded = detail.attempts.map((a: { response_code: number; error: string | null }, i: number) =>
      a.response_code === 0 && a.error === 'timed out after 300 ms' && expectedCodes[i] !== 0 ? expectedCodes[i] : a.response_code,
    );
    expect(recorded).toEqual(expectedCodes);

    for (const c of cleanups.splice(0).reverse()) await c();
    const after = await cleanRun();
    const cleanP50 = Math.max(before.p50, after.p50);
    const cleanP95 = Math.max(before.p95, after.p95);

    const all = [...fates.values()].flat();
    const share = (f: Fate) => all.filter((x) => x === f).length / all.length;
    const p50 = percentile(faulty.healthyLatencies, 50);
    const p95 = percentile(faulty.healthyLatencies, 95);
    console.log(
      `faults: ${all.length} attempts at the flaky subscriber for ${EVENTS} events — ` +
        `500: ${(share('error') * 100).toFixed(1)} %, hang: ${(share('hang') * 100).toFixed(1)} %, ` +
        `reset: ${(share('reset') * 100).toFixed(1)} %, 200: ${(share('ok') * 100).toFixed(1)} %, ` +
        `most attempts for one event: ${Math.max(...[...fates.values()].map((f) => f.length))}; ` +
        `duplicates at the healthy subscribers: ${healthyDuplicates}\n` +
        `healthy publish→receipt latency: clean p50 ${before.p50}/${after.p50} ms p95 ${before.p95}/${after.p95} ms (before/after); ` +
        `with the flaky subscriber p50 ${p50} ms p95 ${p95} ms`,
    );

    // Isolation: the flaky subscriber's retries, hung connections and resets do not hold the healthy ones back.
    // This is a behaviour check, not a benchmark (speed is not asserted by timed unit tests): both runs are the
    // same workload on the same machine, and the bound is loose — 2× the clean run plus 50 ms — so that a busy
    // 2-core machine does not make it fail, while a dispatcher that queued healthy deliveries behind the flaky
    // subscriber's time-outs (300 ms each) and backoffs would still exceed it by far.
    expect(p50).toBeLessThanOrEqual(2 * cleanP50 + 50);
    expect(p95).toBeLessThanOrEqual(2 * cleanP95 + 50);
  }, 90_000);
});
