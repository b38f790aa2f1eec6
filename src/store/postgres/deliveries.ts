// Reading deliveries for the API, and the manual retry of one.
import type pg from 'pg';
import type { DeliveryDetail, DeliveryView, Paged, Tenant } from '../../domain/types.ts';
import type { DeliveryQuery, RetryOutcome } from '../port.ts';
import { Params, transaction } from './db.ts';
import { qualified } from '../columns.ts';
import { DELIVERY_COLUMNS, toAttemptView, toDeliveryView, type AttemptRow, type DeliveryRow } from './rows.ts';
import { tenantEvents, THROUGH_EVENTS } from './tenant-deliveries.ts';

const SELECT_ONE = `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = $1 AND organization_id = $2 AND extension_id = $3`;
const SELECT_ATTEMPTS =
  'SELECT attempt, attempted_at, response_code, duration_ms, response_body, error FROM attempts WHERE delivery_id = $1 ORDER BY attempt';
// The subscriber's row is read under a share lock, so a status change cannot slip between this read and the re-queue
// (a change locks the subscriber first too, then its deliveries: the same order, so the two never deadlock).
// Subscribers are only ever soft-deleted, so the join always finds the delivery's subscriber.
const SELECT_FOR_RETRY = `
  SELECT d.status, s.status AS subscriber_status, s.deleted_at
  FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
  WHERE d.id = $1 AND d.organization_id = $2 AND d.extension_id = $3
  FOR SHARE OF s`;
/**
 * Puts the deliveries a `record` CTE re-queued (RETURNING id, subscriber_id, next_attempt_at, attempt_count) back in
 * delivery_queue with a fresh run (parked when next_attempt_at is NULL), whether or not they still had a queue row;
 * a lease on one is revoked, so the result of an attempt in flight no longer applies.
 */
export const QUEUE_REQUEUED = `
  INSERT INTO delivery_queue (delivery_id, subscriber_id, next_attempt_at, attempt_count)
  SELECT id, subscriber_id, next_attempt_at, attempt_count FROM record
  ON CONFLICT (delivery_id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at, lease_owner = NULL,
    lease_until = NULL, attempt_count = excluded.attempt_count, run_attempts = 0, run_started_at = NULL`;
const REQUEUE = `
  WITH record AS (
    UPDATE deliveries SET status = $1, next_attempt_at = $2, run_attempts = 0, run_started_at = NULL
    WHERE id = $3
    RETURNING id, subscriber_id, next_attempt_at, attempt_count
  )
  ${QUEUE_REQUEUED}`;

export function postgresDeliveries(pool: pg.Pool) {
  /**
   * One subscriber's deliveries through deliveries_by_subscriber_created; a tenant's (or a company's) through their
   * events, newest event first, each event's deliveries by id.
   */
  async function list(tenant: Tenant, q: DeliveryQuery): Promise<Paged<DeliveryView>> {
    const p = new Params();
    let from: string;
    let where: string[];
    // The time column of the index that is read, so that the order can come from it.
    let time: string;
    if (q.subscriberId !== undefined) {
      from = 'deliveries d';
      time = 'd.created_at';
      where = [
        `d.organization_id = ${p.add(tenant.organizationId)}`,
        `d.extension_id = ${p.add(tenant.extensionId)}`,
        `d.subscriber_id = ${p.add(q.subscriberId)}`,
      ];
      if (q.companyId !== undefined) where.push(`d.company_id = ${p.add(q.companyId)}`);
      if (q.eventSlug !== undefined) where.push(`d.event_slug = ${p.add(q.eventSlug)}`);
      if (q.startDate !== undefined) where.push(`d.created_at >= ${p.add(q.startDate)}`);
      if (q.endDate !== undefined) where.push(`d.created_at <= ${p.add(q.endDate)}`);
    } else {
      from = THROUGH_EVENTS;
      time = 'e.created_at';
      where = tenantEvents(p, tenant, q);
      if (q.eventSlug !== undefined) where.push(`e.slug = ${p.add(q.eventSlug)}`);
    }
    if (q.status !== undefined) where.push(`d.status = ${p.add(q.status)}`);
    const clause = where.join(' AND ');
    const total = (await pool.query<{ n: number }>(`SELECT count(*) AS n FROM ${from} WHERE ${clause}`, p.values)).rows[0]!.n;
    const { rows } = await pool.query<DeliveryRow>(
      `SELECT ${qualified('d', DELIVERY_COLUMNS)} FROM ${from} WHERE ${clause}
       ORDER BY ${time} DESC, d.id DESC LIMIT $${p.values.length + 1} OFFSET $${p.values.length + 2}`,
      [...p.values, q.pageSize, (q.pageNo - 1) * q.pageSize],
    );
    return {
      items: rows.map(toDeliveryView),
      page: { current: q.pageNo, size: q.pageSize, item_total: total, has_next: q.pageNo * q.pageSize < total, type: 'number' },
    };
  }

  async function get(tenant: Tenant, id: number): Promise<DeliveryDetail | null> {
    const row = (await pool.query<DeliveryRow>(SELECT_ONE, [id, tenant.organizationId, tenant.extensionId])).rows[0];
    if (!row) return null;
    const { rows } = await pool.query<AttemptRow>(SELECT_ATTEMPTS, [id]);
    return { ...toDeliveryView(row), error: row.last_error, attempts: rows.map(toAttemptView) };
  }

  const retry = (tenant: Tenant, id: number, now: number): Promise<RetryOutcome> =>
    transaction(pool, async (client) => {
      const row = (
        await client.query<{ status: string; subscriber_status: string; deleted_at: number | null }>(SELECT_FOR_RETRY, [
          id,
          tenant.organizationId,
          tenant.extensionId,
        ])
      ).rows[0];
      if (!row) return 'not-found';
      if (row.status === 'FILTER_ERROR') return 'filtered';
      if (row.deleted_at !== null) return 'subscriber-deleted';
      if (row.subscriber_status !== 'active') {
        await client.query(REQUEUE, ['RESYNC', null, id]);
        return 'parked';
      }
      await client.query(REQUEUE, ['PENDING', now, id]);
      return 'queued';
    });

  return { list, get, retry };
}
