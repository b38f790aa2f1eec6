// SQLite only: claims keep event bodies between rounds (EventBodies), and never hand out a kept body for another event,
// even when SQLite gives a purged event's seq to a new one. A real database file, migrated by the store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Tenant } from '../../src/domain/types.ts';
import type { ClaimedDelivery, Store } from '../../src/store/index.ts';
import { EventBodies, utf8 } from '../../src/store/event-bodies.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { queuedSubscriber } from '../helpers/store.ts';

const TENANT: Tenant = { organizationId: 'org_bodies', extensionId: 'ext_bodies' };
const OWNER = 'node-bodies';
let dir: string;
let file: string;
let store: Store;

beforeEach(() => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-bodies-');
  file = join(dir, 'hookd.db');
  store = openSqliteStore(file);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const seqs = () => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT seq, id FROM events ORDER BY seq').all() as { seq: number; id: string }[];
  } finally {
    db.close();
  }
};

async function publish(subscriberId: number | number[], id: string, body: string, companyId = 1, slug = 'company/product/create/v1'): Promise<void> {
  const now = Date.now();
  await store.publish(TENANT, [{
    id, companyId, applicationId: null, slug, idempotencyKey: null, body, createdAt: now,
    deliveries: [subscriberId].flat().map((s) => ({ subscriberId: s, status: 'PENDING' as const })),
  }], now);
}

const text = (body: Uint8Array) => new TextDecoder().decode(body);

const attemptRows = () => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT delivery_id, subscriber_id, company_id FROM attempts ORDER BY delivery_id').all();
  } finally {
    db.close();
  }
};

describe('SQLite event bodies kept between claims', () => {
  it('reads a body once for all the rounds that claim its deliveries, and stops keeping them past its budget', () => {
    const reads: number[] = [];
    const bodies = new EventBodies(1000);
    const body = (seq: number) => {
      const id = `evt_${seq}`;
      return bodies.get(seq, id) ?? bodies.keep(seq, id, (reads.push(seq), utf8(`{"seq":${seq},"pad":"${'x'.repeat(90)}"}`)));
    };
    for (let round = 0; round < 3; round++) expect(JSON.parse(text(body(7))).seq).toBe(7);
    expect(reads).toEqual([7]);
    for (let seq = 1; seq <= 20; seq++) body(seq);
    expect(bodies.count).toBeLessThanOrEqual(9); // ~110 bytes each within 1000
    body(20);
    expect(reads.filter((s) => s === 20)).toHaveLength(1); // the newest are the ones kept
    body(1);
    expect(reads.filter((s) => s === 1)).toHaveLength(2); // the oldest went first
    expect(bodies.get(20, 'evt_other')).toBeUndefined(); // another event under a kept seq
  });

  it('counts its budget in bytes of UTF-8, not characters', () => {
    const bodies = new EventBodies(1000);
    // 60 characters, 180 bytes each: five fit in 1 000 bytes (counted in characters, all ten would).
    for (let seq = 1; seq <= 10; seq++) bodies.keep(seq, `evt_${seq}`, utf8('東'.repeat(60)));
    expect(bodies.count).toBe(5);
    expect([6, 7, 8, 9, 10].every((seq) => bodies.get(seq, `evt_${seq}`)?.byteLength === 180)).toBe(true);
  });

  it('writes into each attempt row its own event\'s company, across claim rounds that keep the events', async () => {
    const a = await queuedSubscriber(store, TENANT, { deliveries: 0 });
    const b = await queuedSubscriber(store, TENANT, { deliveries: 0 });
    await publish([a, b], 'evt_company_7', '{"n":7}', 7, 'company/product/update/v1');
    await publish([a, b], 'evt_company_9', '{"n":9}', 9, 'company/order/create/v1');
    // Two rounds, so the second finds both events kept by the first.
    const claimed: ClaimedDelivery[] = [];
    for (const subscriberId of [a, b]) {
      claimed.push(...(await store.claim([{ subscriberId, limit: 10, leaseMs: 60_000 }], OWNER, Date.now())).deliveries);
    }
    expect(claimed.map((d) => [d.subscriberId, d.eventId, text(d.body)])).toEqual([
      [a, 'evt_company_7', '{"n":7}'], [a, 'evt_company_9', '{"n":9}'], [b, 'evt_company_7', '{"n":7}'], [b, 'evt_company_9', '{"n":9}'],
    ]);
    const now = Date.now();
    await store.recordAttempts(claimed.map((d) => ({
      deliveryId: d.id, subscriberId: d.subscriberId, attempt: 1, attemptedAt: now, runStartedAt: now, durationMs: 1,
      responseCode: 200, responseBody: 'ok', error: null, outcome: { kind: 'success' as const },
    })), OWNER);
    const expected = (d: ClaimedDelivery) => ({
      delivery_id: d.id, subscriber_id: d.subscriberId, company_id: d.eventId === 'evt_company_7' ? 7 : 9,
    });
    expect(attemptRows()).toEqual([...claimed].sort((x, y) => x.id - y.id).map(expected));
  });

  it('sends the new event\'s body when a purged event\'s seq is given to it', async () => {
    const subscriberId = await queuedSubscriber(store, TENANT, { deliveries: 0 });
    await publish(subscriberId, 'evt_old', '{"which":"old"}');
    const first = await store.claim([{ subscriberId, limit: 10, leaseMs: 60_000 }], OWNER, Date.now());
    expect(first.deliveries.map((d) => text(d.body))).toEqual(['{"which":"old"}']);
    const [old] = first.deliveries;
    const oldSeq = seqs()[0]!.seq;
    await store.recordAttempts([{
      deliveryId: old!.id, subscriberId, attempt: 1, attemptedAt: Date.now(), runStartedAt: Date.now(), durationMs: 1,
      responseCode: 200, responseBody: 'ok', error: null, outcome: { kind: 'success' },
    }], OWNER);
    expect(await store.purgeExpired(Date.now() + 1000, 500, Date.now() + 1000)).toBeGreaterThan(0);
    expect(seqs()).toEqual([]);

    await publish(subscriberId, 'evt_new', '{"which":"new"}');
    const [reused] = seqs();
    expect(reused).toEqual({ seq: oldSeq, id: 'evt_new' }); // the case this test is about
    const second = await store.claim([{ subscriberId, limit: 10, leaseMs: 60_000 }], OWNER, Date.now());
    expect(second.deliveries.map((d) => [d.eventId, text(d.body)])).toEqual([['evt_new', '{"which":"new"}']]);
  });
});
