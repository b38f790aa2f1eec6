// Publishing in PostgreSQL: a batch of events, all their deliveries and idempotency keys in one transaction of at
// most four statements, however many events and deliveries the batch holds.
import type pg from 'pg';
import type { EventView, NewEvent, PublishResult, Tenant } from '../../domain/types.ts';
import { prepared, transaction } from './db.ts';
import { DELIVERY_COLUMNS, isoNow, toDeliveryView, type DeliveryRow } from './rows.ts';

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

// Takes each key for this batch unless a live one exists. A key older than the window is taken over (DO UPDATE); a
// live one is left alone and not returned. Two processes publishing the same key at once: the second INSERT waits on
// the first's uncommitted row, then sees the conflict, so exactly one event is created and the other is a duplicate.
// Keys go in sorted order so that two batches never wait on each other's keys in opposite orders.
const CLAIM_KEYS = prepared('claim_keys', `
  INSERT INTO idempotency_keys (organization_id, extension_id, company_id, key, event_id, created_at)
  SELECT $1, $2, company_id, key, event_id, $3::bigint
  FROM unnest($4::bigint[], $5::text[], $6::text[]) AS k(company_id, key, event_id)
  ORDER BY company_id, key
  ON CONFLICT (organization_id, extension_id, company_id, key) DO UPDATE
    SET event_id = excluded.event_id, created_at = excluded.created_at
    WHERE idempotency_keys.created_at <= $3::bigint - ${IDEMPOTENCY_WINDOW_MS}
  RETURNING company_id, key`);
// The events that hold the keys this batch could not take, and how many deliveries each will send.
const HELD_KEYS = `
  SELECT k.company_id, k.key, k.event_id,
    (SELECT count(*) FROM events e JOIN deliveries d ON d.event_seq = e.seq
     WHERE e.id = k.event_id AND d.status <> 'FILTER_ERROR') AS deliveries
  FROM idempotency_keys k
  JOIN unnest($3::bigint[], $4::text[]) AS wanted(company_id, key) ON wanted.company_id = k.company_id AND wanted.key = k.key
  WHERE k.organization_id = $1 AND k.extension_id = $2`;
const INSERT_EVENTS = prepared('insert_events', `
  INSERT INTO events (id, organization_id, extension_id, company_id, application_id, slug, body, created_at)
  SELECT id, $1, $2, company_id, application_id, slug, body, created_at
  FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[])
    AS e(id, company_id, application_id, slug, body, created_at)
  RETURNING seq, id`);
// Queued (PENDING) and parked (RESYNC) deliveries get their delivery_queue row in the same statement.
const INSERT_DELIVERIES = prepared('insert_deliveries', `
  WITH inserted AS (
    INSERT INTO deliveries (event_seq, event_id, subscriber_id, organization_id, extension_id, company_id, event_slug,
      status, next_attempt_at, body, last_error, created_at)
    SELECT event_seq, event_id, subscriber_id, $1, $2, company_id, event_slug, status,
      CASE WHEN status = 'PENDING' THEN created_at END, body, last_error, created_at
    FROM unnest($3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])
      AS d(event_seq, event_id, subscriber_id, company_id, event_slug, status, body, last_error, created_at)
    RETURNING id, subscriber_id, status, next_attempt_at
  )
  INSERT INTO delivery_queue (delivery_id, subscriber_id, next_attempt_at)
  SELECT id, subscriber_id, next_attempt_at FROM inserted WHERE status IN ('PENDING', 'RESYNC')`);
const SELECT_EVENT = 'SELECT * FROM events WHERE id = $1 AND organization_id = $2 AND extension_id = $3';
const SELECT_EVENT_DELIVERIES = `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE event_seq = $1 ORDER BY id`;

const scope = (companyId: number, key: string) => `${companyId}\u0000${key}`;
const sendable = (event: NewEvent) => event.deliveries.filter((d) => d.status !== 'FILTER_ERROR').length;

async function publish(client: pg.PoolClient, tenant: Tenant, events: NewEvent[], now: number): Promise<PublishResult[]> {
  const tenantArgs = [tenant.organizationId, tenant.extensionId];

  // A key repeated within the batch: its first event asks for it, the later ones are duplicates of whoever holds it.
  const firstWithKey = new Map<string, NewEvent>();
  for (const e of events) {
    if (e.idempotencyKey !== null && !firstWithKey.has(scope(e.companyId, e.idempotencyKey))) {
      firstWithKey.set(scope(e.companyId, e.idempotencyKey), e);
    }
  }
  const candidates = [...firstWithKey.values()];
  const taken = new Set<string>();
  const held = new Map<string, { eventId: string; deliveries: number }>();
  if (candidates.length > 0) {
    const claimed = await client.query<{ company_id: number; key: string }>({ ...CLAIM_KEYS, values: [
      ...tenantArgs,
      now,
      candidates.map((e) => e.companyId),
      candidates.map((e) => e.idempotencyKey),
      candidates.map((e) => e.id),
    ] });
    for (const r of claimed.rows) taken.add(scope(r.company_id, r.key));
    const refused = candidates.filter((e) => !taken.has(scope(e.companyId, e.idempotencyKey!)));
    if (refused.length > 0) {
      const { rows } = await client.query<{ company_id: number; key: string; event_id: string; deliveries: number }>(HELD_KEYS, [
        ...tenantArgs,
        refused.map((e) => e.companyId),
        refused.map((e) => e.idempotencyKey),
      ]);
      for (const r of rows) held.set(scope(r.company_id, r.key), { eventId: r.event_id, deliveries: r.deliveries });
    }
  }

  const results: PublishResult[] = [];
  const fresh: NewEvent[] = [];
  for (const e of events) {
    if (e.idempotencyKey !== null) {
      const key = scope(e.companyId, e.idempotencyKey);
      const existing = held.get(key);
      if (existing) {
        results.push({ event_id: existing.eventId, deliveries: existing.deliveries, duplicate: true });
        continue;
      }
      const owner = firstWithKey.get(key)!;
      if (owner !== e) {
        results.push({ event_id: owner.id, deliveries: sendable(owner), duplicate: true });
        continue;
      }
    }
    fresh.push(e);
    results.push({ event_id: e.id, deliveries: sendable(e), duplicate: false });
  }
  if (fresh.length === 0) return results;

  const inserted = await client.query<{ seq: number; id: string }>({ ...INSERT_EVENTS, values: [
    ...tenantArgs,
    fresh.map((e) => e.id),
    fresh.map((e) => e.companyId),
    fresh.map((e) => e.applicationId),
    fresh.map((e) => e.slug),
    fresh.map((e) => e.body),
    fresh.map((e) => e.createdAt),
  ] });
  const seqOf = new Map(inserted.rows.map((r) => [r.id, r.seq]));
  const deliveries = fresh.flatMap((e) => e.deliveries.map((d) => ({ e, d })));
  if (deliveries.length > 0) {
    await client.query({ ...INSERT_DELIVERIES, values: [
      ...tenantArgs,
      deliveries.map(({ e }) => seqOf.get(e.id)),
      deliveries.map(({ e }) => e.id),
      deliveries.map(({ d }) => d.subscriberId),
      deliveries.map(({ e }) => e.companyId),
      deliveries.map(({ e }) => e.slug),
      deliveries.map(({ d }) => d.status),
      deliveries.map(({ d }) => d.body ?? null),
      deliveries.map(({ d }) => d.error ?? null),
      deliveries.map(({ e }) => e.createdAt),
    ] });
  }
  return results;
}

export function postgresEvents(pool: pg.Pool) {
  return {
    publish: (tenant: Tenant, events: NewEvent[], now: number) => transaction(pool, (client) => publish(client, tenant, events, now)),
    async get(tenant: Tenant, eventId: string): Promise<EventView | null> {
      const row = (
        await pool.query<{ seq: number; id: string; slug: string; company_id: number; application_id: string | null; body: string; created_at: number }>(
          SELECT_EVENT,
          [eventId, tenant.organizationId, tenant.extensionId],
        )
      ).rows[0];
      if (!row) return null;
      const { rows } = await pool.query<DeliveryRow>(SELECT_EVENT_DELIVERIES, [row.seq]);
      return {
        id: row.id,
        event_slug: row.slug,
        company_id: row.company_id,
        application_id: row.application_id,
        created_on: isoNow(row.created_at),
        body: JSON.parse(row.body),
        deliveries: rows.map(toDeliveryView),
      };
    },
  };
}
