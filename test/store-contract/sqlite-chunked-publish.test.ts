// SQLite only: a publish of more than 1 000 rows is written in one transaction that lets the event loop turn every
// 1 000 rows (events.ts, write-gate.ts). Meanwhile claims go on but see only deliveries committed before it, every other
// store call waits for its commit, and a publish that fails part-way is rolled back alone. A real database file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newEventId } from '../../src/domain/ids.ts';
import type { NewEvent, Tenant } from '../../src/domain/types.ts';
import type { AttemptResult, ClaimedDelivery, Store } from '../../src/store/port.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { subscriberInput } from '../helpers/store.ts';

const TENANT: Tenant = { organizationId: 'org_chunked', extensionId: 'ext_chunked' };
const T0 = 1_800_000_000_000;
let dir: string;
let file: string;
let store: Store;
let subscriberId: number;

beforeEach(async () => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-chunked-');
  file = join(dir, 'hookd.db');
  store = openSqliteStore(file);
  subscriberId = (await store.createSubscriber(TENANT, subscriberInput(), T0)).id;
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `count` events with one PENDING delivery each: 2 rows per event. */
const events = (count: number, prefix: string): NewEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    id: i === 0 ? newEventId(T0) : `${prefix}_${i}`,
    companyId: 1,
    applicationId: null,
    slug: 'company/product/create/v1',
    idempotencyKey: null,
    body: '{}',
    createdAt: T0,
    deliveries: [{ subscriberId, status: 'PENDING' as const }],
  }));
const turn = () => new Promise((resolve) => setImmediate(resolve));
const success = (d: ClaimedDelivery): AttemptResult => ({
  deliveryId: d.id, subscriberId: d.subscriberId, attempt: 1, attemptedAt: T0, runStartedAt: T0, durationMs: 1,
  responseCode: 200, responseBody: 'ok', error: null, outcome: { kind: 'success' },
});
/** What another connection sees: committed rows only. */
const committedEvents = () => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
};

describe('SQLite publish of more than 1 000 rows', () => {
  it('lets claims run while it is written, which take only what was committed before it', async () => {
    await store.publish(TENANT, events(1, 'evt_small'), T0);
    const large = events(1500, 'evt_large'); // 3 000 rows
    const publishing = store.publish(TENANT, large, T0);
    await turn(); // the group commit starts
    await turn(); // the first 1 000 rows are written, the transaction still open
    expect(committedEvents()).toBe(1);
    // The first claim of this store: it also takes the dispatcher lock, inside the open transaction.
    const during = await store.claim([{ subscriberId, limit: 100, leaseMs: 30_000 }], 'node-1', T0);
    expect(during.deliveries).toHaveLength(1);
    expect(during.deliveries[0]!.eventId).not.toMatch(/^evt_large/);
    expect(during.nextDue.get(subscriberId)).not.toBeUndefined();
    expect((await publishing).map((r) => r.duplicate)).toEqual(large.map(() => false));
    const after = await store.claim([{ subscriberId, limit: 2000, leaseMs: 30_000 }], 'node-1', T0);
    expect(after.deliveries).toHaveLength(1500);
  });

  it('holds every other call back until it commits, so none sees its rows before or writes into it', async () => {
    await store.publish(TENANT, events(1, 'evt_first'), T0);
    const [claimed] = (await store.claim([{ subscriberId, limit: 1, leaseMs: 30_000 }], 'node-1', T0)).deliveries;
    const large = events(1500, 'evt_held');
    const publishing = store.publish(TENANT, large, T0);
    await turn();
    await turn();
    expect(committedEvents()).toBe(1); // the transaction is open
    // What another connection sees as each call's answer arrives: had it run now, inside the transaction, 1 event.
    const seen: Record<string, number> = {};
    const reading = store.getEvent(TENANT, large[0]!.id).then((e) => ((seen.read = committedEvents()), e));
    const recording = store.recordAttempts([success(claimed!)], 'node-1').then((r) => ((seen.record = committedEvents()), r));
    const listing = store.listDeliveries(TENANT, { pageNo: 1, pageSize: 1, subscriberId }).then((p) => ((seen.list = committedEvents()), p));
    await publishing;
    const [event, , page] = await Promise.all([reading, recording, listing]);
    expect(seen).toEqual({ read: 1501, record: 1501, list: 1501 });
    expect(event?.id).toBe(large[0]!.id);
    expect(page.page.item_total).toBe(1501);
    expect((await store.getDelivery(TENANT, claimed!.id))?.status).toBe('SUCCESS');
    expect(committedEvents()).toBe(1501);
  });

  it('rolls back a publish that fails part-way alone, and commits the others of its transaction', async () => {
    const good = events(600, 'evt_good'); // 1 200 rows: together the transaction passes 1 000 rows before the failure
    const bad = events(600, 'evt_bad');
    bad[599] = { ...bad[599]!, id: good[0]!.id }; // its last event's id is taken
    const outcomes = await Promise.allSettled([store.publish(TENANT, good, T0), store.publish(TENANT, bad, T0)]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect(committedEvents()).toBe(600);
    const claimed = await store.claim([{ subscriberId, limit: 2000, leaseMs: 30_000 }], 'node-1', T0);
    expect(claimed.deliveries).toHaveLength(600);
  });
});
