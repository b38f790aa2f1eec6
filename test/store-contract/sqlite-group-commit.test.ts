// SQLite only: publishes that reach the store in one turn of the event loop share one transaction (one fsync), and one
// that fails inside the group is rolled back and rejected alone. A real database file, migrated by the store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewEvent, Tenant } from '../../src/domain/types.ts';
import { sqliteEvents } from '../../src/store/sqlite/events.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';

const TENANT: Tenant = { organizationId: 'org_group', extensionId: 'ext_group' };
let dir: string;
let db: Database.Database;
let events: ReturnType<typeof sqliteEvents>;

beforeEach(async () => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-group-');
  const file = join(dir, 'hookd.db');
  await openSqliteStore(file).close(); // creates and migrates the file
  db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  events = sqliteEvents(db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const event = (id: string, idempotencyKey: string | null = null): NewEvent => ({
  id,
  companyId: 1,
  applicationId: null,
  slug: 'company/product/create/v1',
  idempotencyKey,
  body: '{}',
  createdAt: Date.now(),
  deliveries: [],
});
const stored = () => (db.prepare('SELECT id FROM events ORDER BY seq').pluck().all() as string[]);

describe('SQLite group commit of publishes', () => {
  it('commits publishes made in one turn of the event loop together, in order', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `evt_group_${i}`);
    const results = await Promise.all(ids.map((id) => events.publish(TENANT, [event(id)], Date.now())));
    expect(results.map((r) => r[0]!.event_id)).toEqual(ids);
    expect(events.stats).toEqual({ commits: 1, publishes: 20 });
    expect(stored()).toEqual(ids);
  });

  it('commits publishes that wait for each other one by one', async () => {
    for (let i = 0; i < 5; i++) await events.publish(TENANT, [event(`evt_seq_${i}`)], Date.now());
    expect(events.stats).toEqual({ commits: 5, publishes: 5 });
  });

  it('rejects a publish that fails inside the group alone, and commits the others', async () => {
    await events.publish(TENANT, [event('evt_taken')], Date.now());
    const outcomes = await Promise.allSettled([
      events.publish(TENANT, [event('evt_before')], Date.now()),
      events.publish(TENANT, [event('evt_new'), event('evt_taken')], Date.now()), // its second event collides
      events.publish(TENANT, [event('evt_after')], Date.now()),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // The failing publish is rolled back whole: its first event is not kept either.
    expect(stored()).toEqual(['evt_taken', 'evt_before', 'evt_after']);
  });

  it('sees an idempotency key used earlier in the same group', async () => {
    const [first, second] = await Promise.all([
      events.publish(TENANT, [event('evt_key_1', 'order-7')], Date.now()),
      events.publish(TENANT, [event('evt_key_2', 'order-7')], Date.now()),
    ]);
    expect(first![0]).toMatchObject({ event_id: 'evt_key_1', duplicate: false });
    expect(second![0]).toMatchObject({ event_id: 'evt_key_1', duplicate: true });
    expect(events.stats.commits).toBe(1);
  });
});
