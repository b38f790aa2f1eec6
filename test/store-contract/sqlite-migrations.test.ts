// SQLite only: a file made by an earlier version keeps what it holds when hookd opens it and applies the migrations
// that came after.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { migrateSqlite } from '../../src/store/sqlite/migrate.ts';
import { expectOldAttemptsReported } from './migrated-attempts.ts';

const TENANT = { organizationId: 'org_old', extensionId: 'ext_old' };
const HOUR = 3_600_000;
const T0 = Date.UTC(2027, 0, 15, 8);

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(tmpdir() + sep + 'hookd-migrations-');
  file = join(dir, 'hookd.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite migrations of a file in use', () => {
  it('009 keeps every attempt, and the response-time report still finds them by tenant, company and subscriber', async () => {
    const db = new Database(file);
    expect(migrateSqlite(db, '008_subscriber_index_of_finished').at(-1)).toBe('008_subscriber_index_of_finished');
    const subscriber = db.prepare(`
      INSERT INTO subscribers (organization_id, extension_id, company_id, name, webhook_url, association, custom_headers,
        auth_type, secret, status, retry_policy, timeout_ms, max_in_flight, created_at, updated_at, deleted_at)
      VALUES (?, ?, ?, 'old', 'http://127.0.0.1:9/', '{}', '{}', 'hmac', 'secret', 'active', '{}', 1000, 10, ?, ?, ?)`);
    const kept = Number(subscriber.run(TENANT.organizationId, TENANT.extensionId, 1, T0, T0, null).lastInsertRowid);
    const deleted = Number(subscriber.run(TENANT.organizationId, TENANT.extensionId, 2, T0, T0, T0 + HOUR).lastInsertRowid);
    const other = Number(subscriber.run('org_other', TENANT.extensionId, 1, T0, T0, null).lastInsertRowid);
    const attempt = db.prepare(`
      INSERT INTO attempts (delivery_id, subscriber_id, organization_id, extension_id, company_id, event_slug, attempt,
        attempted_at, response_code, duration_ms, response_body, error)
      VALUES (?, ?, ?, ?, ?, 'company/product/create/v1', 1, ?, 200, ?, 'ok', NULL)`);
    attempt.run(1, kept, TENANT.organizationId, TENANT.extensionId, 1, T0 + 1000, 10);
    attempt.run(2, deleted, TENANT.organizationId, TENANT.extensionId, 2, T0 + 2000, 30);
    attempt.run(3, other, 'org_other', TENANT.extensionId, 1, T0 + 3000, 999);
    db.close();

    const store = openSqliteStore(file);
    try {
      await expectOldAttemptsReported(store, TENANT, T0, kept, other);
    } finally {
      await store.close();
    }
    const after = new Database(file, { readonly: true });
    try {
      expect(after.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toEqual(
        expect.arrayContaining(['009_attempts_by_subscriber', '010_deliveries_purged_by_event']),
      );
      expect(after.prepare("SELECT name FROM pragma_table_info('attempts')").pluck().all()).not.toContain('organization_id');
      expect(after.prepare('SELECT delivery_id, subscriber_id, company_id, duration_ms FROM attempts ORDER BY id').raw().all()).toEqual([
        [1, kept, 1, 10], [2, deleted, 2, 30], [3, other, 1, 999],
      ]);
    } finally {
      after.close();
    }
  });

  it('011 finds the deliveries published before it by tenant, company and time through their events, and bulk-retries them', async () => {
    const db = new Database(file);
    expect(migrateSqlite(db, '010_deliveries_purged_by_event').at(-1)).toBe('010_deliveries_purged_by_event');
    const subscriber = Number(
      db.prepare(`
        INSERT INTO subscribers (organization_id, extension_id, company_id, name, webhook_url, association, custom_headers,
          auth_type, secret, status, retry_policy, timeout_ms, max_in_flight, created_at, updated_at)
        VALUES (?, ?, 1, 'old', 'http://127.0.0.1:9/', '{}', '{}', 'hmac', 'secret', 'active', '{}', 1000, 10, ?, ?)`)
        .run(TENANT.organizationId, TENANT.extensionId, T0, T0).lastInsertRowid,
    );
    const event = db.prepare(`
      INSERT INTO events (id, organization_id, extension_id, company_id, slug, body, created_at) VALUES (?, ?, ?, ?, ?, '{}', ?)`);
    const delivery = db.prepare(`
      INSERT INTO deliveries (event_seq, event_id, subscriber_id, organization_id, extension_id, company_id, event_slug, status,
        created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const publish = (id: string, organizationId: string, companyId: number, status: string, at: number) => {
      const seq = event.run(id, organizationId, TENANT.extensionId, companyId, 'company/product/create/v1', at).lastInsertRowid;
      return Number(
        delivery.run(seq, id, subscriber, organizationId, TENANT.extensionId, companyId, 'company/product/create/v1', status, at)
          .lastInsertRowid,
      );
    };
    const first = publish('evt_1', TENANT.organizationId, 1, 'SUCCESS', T0);
    const second = publish('evt_2', TENANT.organizationId, 2, 'DISABLED', T0 + HOUR);
    publish('evt_3', 'org_other', 1, 'SUCCESS', T0 + HOUR);
    db.close();

    const store = openSqliteStore(file);
    try {
      const listed = async (filter: object) =>
        (await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 10, ...filter })).items.map((d) => d.id);
      expect(await listed({})).toEqual([second, first]);
      expect(await listed({ companyId: 2 })).toEqual([second]);
      expect(await listed({ startDate: T0 + 1, endDate: T0 + HOUR })).toEqual([second]);
      const summary = await store.deliverySummary(TENANT, { startDate: T0, endDate: T0 + HOUR, interval: 'hour' });
      expect(summary.delivery_event_level.map((l) => [l.success, l.failed, l.total])).toEqual([[1, 1, 2]]);
      const retry = { startDate: T0, endDate: T0 + HOUR, statuses: ['SUCCESS' as const, 'DISABLED' as const] };
      expect(await store.requeueDeliveries(TENANT, retry, T0 + 2 * HOUR)).toEqual({ queued: 2 });
    } finally {
      await store.close();
    }
    const after = new Database(file, { readonly: true });
    try {
      expect(after.prepare('SELECT version FROM schema_migrations').pluck().all()).toContain('011_deliveries_by_tenant_through_events');
      const indexes = after.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").pluck().all();
      expect(indexes).toEqual(expect.arrayContaining(['events_by_tenant', 'events_by_company']));
      expect(indexes).not.toContain('deliveries_by_tenant');
      expect(indexes).not.toContain('deliveries_by_company_created');
      expect(after.prepare("SELECT status FROM deliveries WHERE organization_id = 'org_other'").pluck().get()).toBe('SUCCESS');
    } finally {
      after.close();
    }
  });
});
