// The dispatcher's pipeline against a store whose writes are slow: a real SQLite file whose attempt writes are held
// back 100 ms, real HTTP to a receiver on 127.0.0.1. Observed from outside: what the receiver got ahead of the written
// results, how many writes the results took, and how many deliveries were leased at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.ts';
import { Dispatcher, PIPELINE_DEPTH } from '../../src/delivery/dispatcher.ts';
import { Sender } from '../../src/delivery/sender.ts';
import type { Tenant } from '../../src/domain/types.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { ClaimedDelivery, Store } from '../../src/store/index.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { eventually } from '../helpers/app.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { queuedSubscriber } from '../helpers/store.ts';

const TENANT: Tenant = { organizationId: 'org_pipeline', extensionId: 'ext_pipeline' };

let dir: string;
let receiver: Receiver;
let store: Store;

beforeEach(async () => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-pipeline-');
  store = openSqliteStore(join(dir, 'hookd.db'));
  receiver = await startReceiver();
});
afterEach(async () => {
  await store.close();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

/** hookd_delivery_duration_seconds' count per outcome label. */
async function durations(metrics: ReturnType<typeof createMetrics>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const value of (await metrics.deliveryDuration.get()).values) {
    if (value.metricName === 'hookd_delivery_duration_seconds_count') counts[String(value.labels.outcome)] = value.value;
  }
  return counts;
}

interface Run {
  subscribers: number;
  maxInFlight: number;
  eventsEach: number;
  concurrency: number;
  boundUnwritten: boolean;
  /** Every claim also hands out again what earlier claims returned and is not yet recorded (as after leases ran out). */
  reclaimUnrecorded?: boolean;
  /** DispatcherOptions.renewEveryMs */
  renewEveryMs?: number;
  /** DispatcherOptions.flushDelayMs (default 2) and flushBatch */
  flushDelayMs?: number;
  flushBatch?: number;
}

interface Observed {
  /** The most requests the receiver ever had ahead of the results written. */
  mostUnwritten: number;
  /** Results per write, in order. */
  writes: number[];
  /** The most deliveries leased at once (claimed, neither recorded nor handed back yet). */
  mostLeased: number;
  /** Results written for deliveries whose claimed object still held its body (the dispatcher keeps it until then). */
  bodiesHeldToWrite: number;
  /** How many different objects the dispatcher's `held`, `ready` and `due` each were, seen at its claims. */
  collections: { held: number; ready: number; due: number };
}

/** The dispatcher's collections that it replaces by copies of themselves (renewal.ts). */
type Renewed = { held: object; ready: object; due: object };

async function run(r: Run): Promise<Observed> {
  const total = r.subscribers * r.eventsEach;
  for (let s = 0; s < r.subscribers; s++) {
    await queuedSubscriber(store, TENANT, { webhookUrl: receiver.url('/hook'), maxInFlight: r.maxInFlight, timeoutMs: 2000, deliveries: r.eventsEach });
  }

  const seen: Observed = { mostUnwritten: 0, writes: [], mostLeased: 0, bodiesHeldToWrite: 0, collections: { held: 0, ready: 0, due: 0 } };
  const collections = { held: new Set<object>(), ready: new Set<object>(), due: new Set<object>() };
  // Assigned below, before it claims.
  let dispatcher!: Dispatcher;
  let written = 0;
  let leased = 0;
  const unrecorded = new Map<number, ClaimedDelivery>();
  // The receiver answers at once; each request is compared with what was written when it arrived.
  receiver.on('/hook', () => {
    seen.mostUnwritten = Math.max(seen.mostUnwritten, receiver.requests.length - written);
    return {};
  });
  const watched = new Proxy(store, {
    get(target, key, receiverOfGet) {
      if (key === 'claim') {
        return async (...args: Parameters<Store['claim']>) => {
          const inside = dispatcher as unknown as Renewed;
          for (const name of ['held', 'ready', 'due'] as const) collections[name].add(inside[name]);
          const result = await target.claim(...args);
          const again = r.reclaimUnrecorded ? [...unrecorded.values()] : [];
          for (const d of result.deliveries) unrecorded.set(d.id, d);
          result.deliveries.push(...again);
          leased += result.deliveries.length;
          seen.mostLeased = Math.max(seen.mostLeased, leased);
          return result;
        };
      }
      if (key === 'releaseLeases') {
        return async (...args: Parameters<Store['releaseLeases']>) => {
          const released = await target.releaseLeases(...args);
          leased -= released;
          return released;
        };
      }
      if (key === 'recordAttempts') {
        return async (...args: Parameters<Store['recordAttempts']>) => {
          for (const result of args[0]) if ((unrecorded.get(result.deliveryId)?.body.byteLength ?? 0) > 0) seen.bodiesHeldToWrite++;
          await new Promise((resolve) => setTimeout(resolve, 100));
          const summary = await target.recordAttempts(...args);
          for (const result of args[0]) unrecorded.delete(result.deliveryId);
          written += args[0].length;
          leased -= args[0].length;
          seen.writes.push(args[0].length);
          return summary;
        };
      }
      return Reflect.get(target, key, receiverOfGet);
    },
  });
  const sender = new Sender({ allowPrivateNetworks: true });
  const metrics = createMetrics();
  dispatcher = new Dispatcher(watched, sender, createLogger({ logLevel: 'silent' }), metrics, {
    concurrency: r.concurrency,
    leaseMarginMs: 10_000,
    flushDelayMs: r.flushDelayMs ?? 2,
    flushBatch: r.flushBatch,
    boundUnwritten: r.boundUnwritten,
    renewEveryMs: r.renewEveryMs,
  });
  await dispatcher.start();
  try {
    await eventually(async () => written >= total, 30_000);
  } finally {
    await dispatcher.stop(1000);
    await sender.close();
  }
  expect(receiver.requests).toHaveLength(total);
  // Each answer timed once, under its outcome.
  expect(await durations(metrics)).toEqual({ success: total });
  seen.collections = { held: collections.held.size, ready: collections.ready.size, due: collections.due.size };
  return seen;
}

describe('dispatcher pipeline under slow writes', () => {
  const one = { subscribers: 1, maxInFlight: 4, eventsEach: 64, concurrency: 64 };

  it('with boundUnwritten, never has more than 2 × max_in_flight sent and unwritten, however slow the writes', async () => {
    expect((await run({ ...one, boundUnwritten: true })).mostUnwritten).toBeLessThanOrEqual(2 * one.maxInFlight);
  });

  it('without it, answers pile up behind slow writes (what the bound prevents)', async () => {
    expect((await run({ ...one, boundUnwritten: false })).mostUnwritten).toBeGreaterThan(2 * one.maxInFlight);
  });

  it('lets go of each body once the sender has it, and sends the body it was given', async () => {
    const { bodiesHeldToWrite } = await run({ ...one, boundUnwritten: false });
    expect(bodiesHeldToWrite).toBe(0);
    expect(receiver.requests.every((r) => r.body === '{}')).toBe(true);
  });

  it('starts a write once flushBatch results wait, without waiting out the flush delay', async () => {
    // A minute's delay: every write here is one the batch size started (the run waits 30 s at most for all of them).
    const { writes } = await run({ ...one, boundUnwritten: false, flushDelayMs: 60_000, flushBatch: 1 });
    expect(writes.reduce((a, b) => a + b, 0)).toBe(64);
  });

  it('writes what arrived during a write in the next one (group commit), not as a queue of small writes', async () => {
    const { writes } = await run({ ...one, boundUnwritten: false });
    // 64 answers within ~100 ms: one write takes the first few, the next everything that came meanwhile. A write per
    // flush delay (2 ms) queued behind the slow one made ~20 writes of 1-5 results.
    expect(writes.length).toBeLessThanOrEqual(4);
    expect(writes.reduce((a, b) => a + b, 0)).toBe(64);
  });

  it('does not send again what it holds when a claim hands it out again (a lease that ran out before its result was written)', async () => {
    // run() checks that the receiver got each delivery once.
    await run({ subscribers: 2, maxInFlight: 2, eventsEach: 100, concurrency: 8, boundUnwritten: true, reclaimUnrecorded: true });
  });

  it('sends and records each delivery once when its collections of held, ready and due work are copied at every claim round', async () => {
    // run() checks that the receiver got each delivery once and that each answer was timed once. A copy that lost
    // what waits in `ready` would strand deliveries; one that lost `held`, send some twice under reclaimUnrecorded.
    const { collections } = await run({ subscribers: 4, maxInFlight: 4, eventsEach: 100, concurrency: 8, boundUnwritten: false, reclaimUnrecorded: true, renewEveryMs: 0 });
    // Copied indeed: each was a new object at the claims after the first.
    expect(Math.min(collections.held, collections.ready, collections.due)).toBeGreaterThan(1);
  });

  it('claims ahead no deeper than the pipeline when subscribers wait at their limit with slots free', async () => {
    // 16 subscribers × max_in_flight 4 could use 64 slots, but the unwritten bound holds each to a few at a time, so
    // slots stay free while `ready` fills: claims for free slots must not keep leasing for subscribers that wait.
    const concurrency = 8;
    const { mostLeased } = await run({ subscribers: 16, maxInFlight: 4, eventsEach: 40, concurrency, boundUnwritten: true });
    // Leased: what is sent and unwritten (≤ 2 × max_in_flight each), the pipeline, and a few rounds of claims for free
    // slots. Claiming for waiting subscribers as well leased the whole queue (all 640).
    expect(mostLeased).toBeLessThanOrEqual(16 * 2 * 4 + concurrency * PIPELINE_DEPTH + concurrency * 8);
  });
});

describe('dispatcher with a sender that answers before it returns', () => {
  it('records each claimed delivery once when every attempt is refused at once (an IP literal, SSRF guard)', async () => {
    // The in-process Sender refuses an IP literal synchronously: each attempt lands while pump is still starting others.
    const total = 300;
    await queuedSubscriber(store, TENANT, { webhookUrl: 'http://127.0.0.1:9/hook', maxInFlight: 64, deliveries: total });
    const recorded = new Map<number, number>();
    const errors = new Set<string | null>();
    const watched = new Proxy(store, {
      get(target, key, receiverOfGet) {
        if (key === 'recordAttempts') {
          return (...args: Parameters<Store['recordAttempts']>) => {
            for (const r of args[0]) {
              recorded.set(r.deliveryId, (recorded.get(r.deliveryId) ?? 0) + 1);
              errors.add(r.error);
            }
            return target.recordAttempts(...args);
          };
        }
        return Reflect.get(target, key, receiverOfGet);
      },
    });
    const sender = new Sender({ allowPrivateNetworks: false });
    const metrics = createMetrics();
    const dispatcher = new Dispatcher(watched, sender, createLogger({ logLevel: 'silent' }), metrics, {
      concurrency: 16,
      leaseMarginMs: 10_000,
      flushDelayMs: 2,
    });
    await dispatcher.start();
    try {
      await eventually(async () => recorded.size >= total, 10_000);
    } finally {
      await dispatcher.stop(1000);
      await sender.close();
    }
    expect(recorded.size).toBe(total);
    expect([...recorded.values()].every((n) => n === 1)).toBe(true);
    expect([...errors]).toEqual([expect.stringMatching(/refused to connect: 127\.0\.0\.1 .*SSRF guard/)]);
    expect(dispatcher.inFlightCount).toBe(0);
    expect(await durations(metrics)).toEqual({ failure: total });
  });
});
