// Publishing in SQLite: events, their deliveries and idempotency keys written in one transaction.
import type Database from 'better-sqlite3';
import type { EventView, NewEvent, PublishResult, Tenant } from '../../domain/types.ts';
import { DELIVERY_COLUMNS, isoNow, toDeliveryView, type DeliveryRow } from './rows.ts';

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export function sqliteEvents(db: Database.Database) {
  const insertEvent = db.prepare(`
    INSERT INTO events (id, organization_id, extension_id, company_id, application_id, slug, body, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertDelivery = db.prepare(`
    INSERT INTO deliveries (event_seq, event_id, subscriber_id, organization_id, extension_id, company_id, event_slug,
      status, next_attempt_at, body, last_error, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const selectKey = db.prepare(
    'SELECT event_id, created_at FROM idempotency_keys WHERE organization_id = ? AND extension_id = ? AND company_id = ? AND key = ?',
  );
  const upsertKey = db.prepare(`
    INSERT INTO idempotency_keys (organization_id, extension_id, company_id, key, event_id, created_at) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (organization_id, extension_id, company_id, key) DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at`);
  const countDeliveries = db.prepare(
    "SELECT count(*) AS n FROM deliveries WHERE event_id = ? AND status <> 'FILTER_ERROR'",
  );
  const selectEvent = db.prepare('SELECT * FROM events WHERE id = ? AND organization_id = ? AND extension_id = ?');
  const selectEventDeliveries = db.prepare(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE event_seq = ? ORDER BY id`);

  const publish = db.transaction((tenant: Tenant, events: NewEvent[], now: number): PublishResult[] =>
    events.map((event) => {
      if (event.idempotencyKey !== null) {
        const seen = selectKey.get(tenant.organizationId, tenant.extensionId, event.companyId, event.idempotencyKey) as
          | { event_id: string; created_at: number }
          | undefined;
        if (seen && seen.created_at > now - IDEMPOTENCY_WINDOW_MS) {
          const n = (countDeliveries.get(seen.event_id) as { n: number }).n;
          return { event_id: seen.event_id, deliveries: n, duplicate: true };
        }
        upsertKey.run(tenant.organizationId, tenant.extensionId, event.companyId, event.idempotencyKey, event.id, now);
      }
      const seq = insertEvent.run(
        event.id, tenant.organizationId, tenant.extensionId, event.companyId, event.applicationId, event.slug, event.body, event.createdAt,
      ).lastInsertRowid;
      for (const d of event.deliveries) {
        insertDelivery.run(
          seq, event.id, d.subscriberId, tenant.organizationId, tenant.extensionId, event.companyId, event.slug,
          d.status, d.status === 'PENDING' ? event.createdAt : null, d.body ?? null, d.error ?? null, event.createdAt,
        );
      }
      const created = event.deliveries.filter((d) => d.status !== 'FILTER_ERROR').length;
      return { event_id: event.id, deliveries: created, duplicate: false };
    }),
  );

  return {
    publish: (tenant: Tenant, events: NewEvent[], now: number) => publish.immediate(tenant, events, now),
    get(tenant: Tenant, eventId: string): EventView | null {
      const row = selectEvent.get(eventId, tenant.organizationId, tenant.extensionId) as
        | { seq: number; id: string; slug: string; company_id: number; application_id: string | null; body: string; created_at: number }
        | undefined;
      if (!row) return null;
      return {
        id: row.id,
        event_slug: row.slug,
        company_id: row.company_id,
        application_id: row.application_id,
        created_on: isoNow(row.created_at),
        body: JSON.parse(row.body),
        deliveries: (selectEventDeliveries.all(row.seq) as DeliveryRow[]).map(toDeliveryView),
      };
    },
  };
}
