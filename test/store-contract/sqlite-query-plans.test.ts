// SQLite only: the queries a claim runs per subscriber read the partial "due" index in queue order, so their cost
// follows the rows they return, not the rows behind them in the table or the length of the queue; and the queries by
// subscriber read that subscriber's two indexes, not the tenant's deliveries.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { QUEUE_READS } from '../../src/store/sqlite/dispatch.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/index.ts';

const TENANT = { organizationId: 'org_plans', extensionId: 'ext_plans' };

let dir: string;
let db: Database.Database;

beforeAll(async () => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-plans-');
  const file = join(dir, 'hookd.db');
  await openSqliteStore(file).close(); // creates and migrates the file
  db = new Database(file);
});
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const plan = (sql: string): string[] =>
  (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array<number>(sql.split('?').length - 1).fill(1)) as { detail: string }[]).map((r) => r.detail);

describe('SQLite claim queries', () => {
  it.each([['head', QUEUE_READS.head], ['after', QUEUE_READS.after]])('%s reads the due index in order, and only the rows it returns, no sort', (_, sql) => {
    const steps = plan(sql);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatch(/^SEARCH deliveries USING INDEX deliveries_due \(subscriber_id=\?/);
  });

  it('the count up to a place in the queue reads the due index alone', () => {
    expect(plan(QUEUE_READS.upTo)).toEqual([expect.stringMatching(/^SEARCH deliveries USING COVERING INDEX deliveries_due \(subscriber_id=\?/)]);
  });

  it.each(Object.entries(QUEUE_READS))('%s binds no bare LIMIT ?, which SQLite prepares again at every run', (_, sql) => {
    expect(sql).not.toMatch(/LIMIT \?(?!\s*\+)/);
  });
});

describe('SQLite queries by subscriber', () => {
  const indexSql = (name: string) => db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?").pluck().get(name);

  it('keeps a per-subscriber index of finished deliveries only, so a publish writes one per-subscriber entry, not two', () => {
    expect(indexSql('deliveries_by_subscriber_created')).toBeUndefined();
    expect(indexSql('deliveries_by_subscriber_finished')).toMatch(/\(subscriber_id, created_at\) WHERE status NOT IN \('PENDING', 'FAILED'\)$/);
    expect(indexSql('deliveries_due')).toMatch(/WHERE status IN \('PENDING', 'FAILED'\)$/);
  });

  /** The SQL of every statement the store prepares while `use` runs (better-sqlite3 prepares each one it runs). */
  async function prepared(use: (store: Store) => Promise<unknown>): Promise<string[]> {
    const store = openSqliteStore(join(dir, 'hookd.db'));
    const spy = vi.spyOn(Database.prototype, 'prepare');
    try {
      await use(store);
      return spy.mock.calls.map(([sql]) => sql);
    } finally {
      spy.mockRestore();
      await store.close();
    }
  }

  // Reads of the table (as deliveries, or d in a join); 'SCAN d' alone is a scan of the subquery's own rows.
  const reads = (sql: string) => plan(sql).filter((step) => /^(SEARCH|SCAN) (deliveries|d)\b/.test(step) && step !== 'SCAN d');
  const ONE_HALF = /^SEARCH (deliveries|d) USING (COVERING )?INDEX (deliveries_due|deliveries_by_subscriber_finished) \(subscriber_id=\?/;

  it.each<[string, (store: Store) => Promise<unknown>, number]>([
    ['the delivery listing and its count', (s) => s.listDeliveries(TENANT, { pageNo: 2, pageSize: 10, subscriberId: 1, status: 'SUCCESS', startDate: 1, endDate: 2 }), 2],
    ['the delivery summary report', (s) => s.deliverySummary(TENANT, { startDate: 1, endDate: 2, subscriberId: 1, interval: 'hour' }), 2],
    ['the delivery time series', (s) => s.deliveryTimeSeries(TENANT, { startDate: 1, endDate: 2, subscriberId: 1, interval: 'hour' }), 1],
    ['a bulk retry of queued and finished statuses', (s) => s.requeueDeliveries(TENANT, { startDate: 1, endDate: 2, subscriberIds: [1], statuses: ['FAILED', 'DISABLED'] }, 3), 2],
  ])('%s by subscriber read(s) its two indexes by subscriber_id, never the tenant\'s deliveries', async (_, use, statements) => {
    const bySubscriber = (await prepared(use)).filter((sql) => /\bdeliveries\b/.test(sql) && /subscriber_id = \?|subscriber_id IN \(/.test(sql));
    expect(bySubscriber).toHaveLength(statements);
    for (const sql of bySubscriber) {
      const steps = reads(sql);
      expect(steps.length).toBeGreaterThan(0);
      for (const step of steps) expect(step).toMatch(ONE_HALF);
    }
    const indexes = bySubscriber.flatMap(reads).map((step) => ONE_HALF.exec(step)![3]);
    expect(new Set(indexes)).toEqual(new Set(['deliveries_due', 'deliveries_by_subscriber_finished']));
  });

  it('a bulk retry by subscriber of finished statuses only reads only their half', async () => {
    const statements = await prepared((s) => s.requeueDeliveries(TENANT, { startDate: 1, endDate: 2, subscriberIds: [1], statuses: ['SUCCESS'] }, 3));
    const updates = statements.filter((sql) => /^\s*UPDATE deliveries/.test(sql));
    expect(updates).toHaveLength(1);
    expect(reads(updates[0]!)).toEqual([expect.stringMatching(/USING INDEX deliveries_by_subscriber_finished \(subscriber_id=\?/)]);
  });
});

describe('SQLite queries by tenant', () => {
  const indexesOf = (table: string) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?").pluck().all(table) as string[];

  it('index the events by tenant and company, and the deliveries by neither, so a publish writes them once per event', () => {
    expect(indexesOf('deliveries')).not.toContain('deliveries_by_tenant');
    expect(indexesOf('deliveries')).not.toContain('deliveries_by_company_created');
    expect(indexesOf('events')).toEqual(expect.arrayContaining(['events_by_tenant', 'events_by_company']));
  });

  /** The statements that read deliveries, of those the store prepares while `use` runs. */
  async function deliveryReads(use: (store: Store) => Promise<unknown>): Promise<string[]> {
    const store = openSqliteStore(join(dir, 'hookd.db'));
    const spy = vi.spyOn(Database.prototype, 'prepare');
    try {
      await use(store);
      return spy.mock.calls.map(([sql]) => sql).filter((sql) => /\bdeliveries\b/.test(sql));
    } finally {
      spy.mockRestore();
      await store.close();
    }
  }

  const THROUGH_EVENTS = [
    /^SEARCH e USING (COVERING )?INDEX events_by_(tenant|company) \(organization_id=\? AND extension_id=\?/,
    /^SEARCH d USING (COVERING )?INDEX deliveries_by_event \(event_seq=\?\)$/,
  ];

  it.each<[string, (store: Store) => Promise<unknown>, number]>([
    ['the delivery listing and its count', (s) => s.listDeliveries(TENANT, { pageNo: 2, pageSize: 10, status: 'SUCCESS', startDate: 1, endDate: 2 }), 2],
    ['the delivery listing of a company', (s) => s.listDeliveries(TENANT, { pageNo: 1, pageSize: 10, companyId: 1, eventSlug: 'a/b/c/v1' }), 2],
    ['the delivery summary report', (s) => s.deliverySummary(TENANT, { startDate: 1, endDate: 2, interval: 'hour' }), 2],
    ['the delivery time series of a company', (s) => s.deliveryTimeSeries(TENANT, { startDate: 1, endDate: 2, companyId: 1, interval: 'hour' }), 1],
    ['a bulk retry', (s) => s.requeueDeliveries(TENANT, { startDate: 1, endDate: 2, statuses: ['FAILED', 'SUCCESS'], eventSlugs: ['a/b/c/v1'] }, 3), 1],
  ])('%s read(s) the tenant\'s events by their index, then each one\'s deliveries by deliveries_by_event', async (_, use, statements) => {
    const sqls = await deliveryReads(use);
    expect(sqls).toHaveLength(statements);
    for (const sql of sqls) {
      // In either order: a bulk retry's plan lists the deliveries' step first, for its IN (SELECT seq FROM events …).
      const steps = plan(sql).filter((step) => /^(SEARCH|SCAN) (deliveries|d|e)\b/.test(step));
      expect(steps).toHaveLength(2);
      for (const read of THROUGH_EVENTS) expect(steps).toContainEqual(expect.stringMatching(read));
    }
  });

  it('sorts a page only among deliveries of the same creation time, never the whole listing', async () => {
    const [, page] = await deliveryReads((s) => s.listDeliveries(TENANT, { pageNo: 3, pageSize: 10 }));
    expect(plan(page!).filter((step) => /TEMP B-TREE/.test(step))).toEqual(['USE TEMP B-TREE FOR LAST TERM OF ORDER BY']);
  });
});

describe('SQLite attempt rows', () => {
  const columns = () => (db.prepare("SELECT name FROM pragma_table_info('attempts')").pluck().all() as string[]);
  const indexes = () => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'attempts'").pluck().all() as string[]);

  it('carry no copy of the tenant, and have two indexes: by delivery and by subscriber and time', () => {
    expect(columns()).not.toContain('organization_id');
    expect(columns()).not.toContain('extension_id');
    expect(columns()).not.toContain('event_slug');
    expect(columns()).toContain('company_id');
    expect(indexes().sort()).toEqual(['attempts_by_delivery', 'attempts_by_subscriber_time']);
  });

  it.each<[string, Record<string, number>]>([
    ['a tenant', {}],
    ['a company', { companyId: 1 }],
    ['a subscriber', { subscriberId: 1 }],
  ])('the response-time report of %s reads the attempts of the tenant\'s subscribers by subscriber and time, the subscribers by tenant', async (_, filter) => {
    const store = openSqliteStore(join(dir, 'hookd.db'));
    const spy = vi.spyOn(Database.prototype, 'prepare');
    let statements: string[];
    try {
      await store.responseTimeReport(TENANT, { startDate: 1, endDate: 2, interval: 'hour', ...filter });
      statements = spy.mock.calls.map(([sql]) => sql).filter((sql) => /\bFROM attempts\b/.test(sql));
    } finally {
      spy.mockRestore();
      await store.close();
    }
    expect(statements).toHaveLength(1);
    const steps = plan(statements[0]!).filter((step) => /^(SEARCH|SCAN) (attempts|subscribers)\b/.test(step));
    expect(steps).toContainEqual(expect.stringMatching(/^SEARCH attempts USING INDEX attempts_by_subscriber_time \(subscriber_id=\? AND attempted_at>\? AND attempted_at<\?\)$/));
    for (const step of steps) expect(step).toMatch(/^SEARCH (attempts USING INDEX attempts_by_subscriber_time|subscribers USING (COVERING )?INDEX subscribers_by_tenant_with_deleted) /);
  });
});

describe('SQLite retention', () => {
  it('finds expired deliveries through their events, so a publish writes no index of delivery times', async () => {
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'deliveries_by_created'").get()).toBeUndefined();
    const spy = vi.spyOn(Database.prototype, 'prepare'); // before the store is opened: it prepares its purge then
    const store = openSqliteStore(join(dir, 'hookd.db'));
    let purge: string | undefined;
    try {
      await store.purgeExpired(1, 10, 2);
      purge = spy.mock.calls.map(([sql]) => sql).find((sql) => /^\s*DELETE FROM deliveries\b/.test(sql));
    } finally {
      spy.mockRestore();
      await store.close();
    }
    expect(plan(purge!).filter((step) => /^(SEARCH|SCAN) /.test(step))).toEqual([
      'SEARCH deliveries USING INTEGER PRIMARY KEY (rowid=?)',
      'SEARCH e USING COVERING INDEX events_by_created (created_at<?)',
      'SEARCH d USING INDEX deliveries_by_event (event_seq=?)',
    ]);
  });
});
