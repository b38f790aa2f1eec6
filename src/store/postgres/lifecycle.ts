// Operations on many deliveries at once (bulk retry, retention) and secret rotation, each a few statements.
import type pg from 'pg';
import type { Tenant } from '../../domain/types.ts';
import type { BulkRetryQuery } from '../port.ts';
import { Params, transaction } from './db.ts';
import { QUEUE_REQUEUED } from './deliveries.ts';
import { tenantEvents } from './tenant-deliveries.ts';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

const ROTATE = `
  UPDATE subscribers SET previous_secret = secret, previous_secret_until = $1, secret = $2, updated_at = $3
  WHERE id = $4 AND organization_id = $5 AND extension_id = $6 AND deleted_at IS NULL`;

// Retention: each statement removes at most `batch` rows, so a purge never holds its locks for long.
// Attempts go from the oldest id on: ids follow attempt time (an attempt gets its id when its answer is written, at most
// a time-out after it began), so the oldest `batch` ids are where expired ones are, with no index on the time.
const PURGE_ATTEMPTS = `
  DELETE FROM attempts WHERE id IN (
    SELECT id FROM (SELECT id, attempted_at FROM attempts ORDER BY id LIMIT $2) oldest WHERE attempted_at < $1)`;
const PURGE_DELIVERIES = `
  DELETE FROM deliveries WHERE id IN (
    SELECT id FROM deliveries WHERE created_at < $1 AND status IN ('SUCCESS', 'DISABLED', 'FILTER_ERROR') LIMIT $2)`;
const PURGE_EVENTS = `
  DELETE FROM events WHERE seq IN (
    SELECT seq FROM events e WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq) LIMIT $2)`;
const PURGE_KEYS = `
  DELETE FROM idempotency_keys WHERE (organization_id, extension_id, company_id, key) IN (
    SELECT organization_id, extension_id, company_id, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`;

export function postgresLifecycle(pool: pg.Pool) {
  async function requeue(tenant: Tenant, q: BulkRetryQuery, now: number): Promise<{ queued: number }> {
    const p = new Params();
    const at = p.add(now);
    // By subscriber through deliveries_by_subscriber_created; the whole tenant's through its events (tenant-deliveries.ts).
    const where = q.subscriberIds?.length
      ? [
          `d.organization_id = ${p.add(tenant.organizationId)}`,
          `d.extension_id = ${p.add(tenant.extensionId)}`,
          `d.subscriber_id = ANY(${p.add(q.subscriberIds)}::bigint[])`,
          `d.created_at >= ${p.add(q.startDate)}`,
          `d.created_at <= ${p.add(q.endDate)}`,
        ]
      : [`d.event_seq IN (SELECT e.seq FROM events e WHERE ${tenantEvents(p, tenant, q).join(' AND ')})`];
    where.push(
      `d.status = ANY(${p.add(q.statuses)}::text[])`,
      // A FILTER_ERROR is a record of a filter that failed, never something to send.
      "d.status <> 'FILTER_ERROR'",
    );
    if (q.eventSlugs?.length) where.push(`d.event_slug = ANY(${p.add(q.eventSlugs)}::text[])`);
    // One statement, however many rows match: deliveries of an active subscriber go back in the queue; those of
    // an inactive or blocked one are parked as RESYNC.
    const { rowCount } = await pool.query(
      `WITH record AS (
         UPDATE deliveries AS d SET
           status = CASE WHEN s.status = 'active' THEN 'PENDING' ELSE 'RESYNC' END,
           next_attempt_at = CASE WHEN s.status = 'active' THEN ${at}::bigint ELSE NULL END,
           run_attempts = 0, run_started_at = NULL
         FROM subscribers AS s
         WHERE s.id = d.subscriber_id AND s.deleted_at IS NULL AND ${where.join(' AND ')}
         RETURNING d.id, d.subscriber_id, d.next_attempt_at, d.attempt_count
       )
       ${QUEUE_REQUEUED}`,
      p.values,
    );
    return { queued: rowCount ?? 0 };
  }

  const purge = (cutoff: number, batch: number, now: number): Promise<number> =>
    transaction(pool, async (client) => {
      let removed = (await client.query(PURGE_ATTEMPTS, [cutoff, batch])).rowCount ?? 0;
      removed += (await client.query(PURGE_DELIVERIES, [cutoff, batch])).rowCount ?? 0;
      removed += (await client.query(PURGE_EVENTS, [cutoff, batch])).rowCount ?? 0;
      removed += (await client.query(PURGE_KEYS, [Math.min(cutoff, now - IDEMPOTENCY_TTL_MS), batch])).rowCount ?? 0;
      return removed;
    });

  return {
    requeue,
    rotate: async (tenant: Tenant, id: number, secret: string, previousUntil: number, now: number): Promise<boolean> =>
      ((await pool.query(ROTATE, [previousUntil, secret, now, id, tenant.organizationId, tenant.extensionId])).rowCount ?? 0) > 0,
    purge,
  };
}
