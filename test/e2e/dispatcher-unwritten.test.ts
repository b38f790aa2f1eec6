// What a killed node would send again is what it had in flight plus the answers it had not yet written. With
// `boundUnwritten` (PostgreSQL's setting) a subscriber starts nothing new while those reach 2 × max_in_flight, even when
// the store's writes are slow. The dispatcher runs on a real SQLite file whose writes are held back 100 ms, sending to
// a real receiver; every request the receiver sees is compared with the results written by then.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.ts';
import { Dispatcher } from '../../src/delivery/dispatcher.ts';
import { Sender } from '../../src/delivery/sender.ts';
import { DEFAULT_RETRY_POLICY, type Tenant } from '../../src/domain/types.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { Store } from '../../src/store/index.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { eventually } from '../helpers/app.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

const TENANT: Tenant = { organizationId: 'org_unwritten', extensionId: 'ext_unwritten' };
const MAX_IN_FLIGHT = 4;
const EVENTS = 64;

let dir: string;
let receiver: Receiver;
let store: Store;

beforeEach(async () => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-unwritten-');
  store = openSqliteStore(join(dir, 'hookd.db'));
  receiver = await startReceiver();
});
afterEach(async () => {
  await store.close();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Publishes EVENTS deliveries to one subscriber and returns the most requests ever seen ahead of the written results. */
async function mostUnwritten(boundUnwritten: boolean): Promise<number> {
  const { id } = await store.createSubscriber(TENANT, {
    name: 'unwritten',
    webhook_url: receiver.url('/hook'),
    association: { company_id: 1, criteria: 'ALL', application_id: [] },
    events: [{ slug: 'company/product/create/v1', filters: null, reducer: null }],
    custom_headers: {},
    auth_meta: { type: 'hmac', secret: 'a-secret-of-sufficient-length' },
    email_id: null,
    status: 'active',
    retry_policy: DEFAULT_RETRY_POLICY,
    timeout_ms: 2000,
    max_in_flight: MAX_IN_FLIGHT,
  }, Date.now());
  const now = Date.now();
  await store.publish(TENANT, Array.from({ length: EVENTS }, (_, i) => ({
    id: `evt_unwritten_${boundUnwritten}_${i}`,
    companyId: 1,
    applicationId: null,
    slug: 'company/product/create/v1',
    idempotencyKey: null,
    body: '{}',
    createdAt: now,
    deliveries: [{ subscriberId: id, status: 'PENDING' as const }],
  })), now);

  let written = 0;
  let most = 0;
  // The receiver answers at once; each request is compared with what was written when it arrived.
  receiver.on('/hook', () => {
    most = Math.max(most, receiver.requests.length - written);
    return {};
  });
  const slowWrites = new Proxy(store, {
    get(target, key, receiverOfGet) {
      if (key !== 'recordAttempts') return Reflect.get(target, key, receiverOfGet);
      return async (...args: Parameters<Store['recordAttempts']>) => {
        await new Promise((r) => setTimeout(r, 100));
        const summary = await target.recordAttempts(...args);
        written += args[0].length;
        return summary;
      };
    },
  });
  const sender = new Sender({ allowPrivateNetworks: true });
  const dispatcher = new Dispatcher(slowWrites, sender, createLogger({ logLevel: 'silent' }), createMetrics(), {
    concurrency: 64,
    leaseMarginMs: 10_000,
    flushDelayMs: 2,
    boundUnwritten,
  });
  await dispatcher.start();
  try {
    await eventually(async () => written >= EVENTS, 30_000);
  } finally {
    await dispatcher.stop(1000);
    await sender.close();
  }
  expect(receiver.requests).toHaveLength(EVENTS);
  return most;
}

describe('answers not yet written', () => {
  it('with boundUnwritten, never exceed 2 × max_in_flight together with what is in flight, however slow the writes', async () => {
    expect(await mostUnwritten(true)).toBeLessThanOrEqual(2 * MAX_IN_FLIGHT);
  });

  it('without it, pile up behind slow writes (what the bound prevents)', async () => {
    expect(await mostUnwritten(false)).toBeGreaterThan(2 * MAX_IN_FLIGHT);
  });
});
