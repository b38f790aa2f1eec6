// Reading deliveries for the API, and the manual retry of one.
import type Database from 'better-sqlite3';
import type { Leases } from './leases.ts';
import type { DeliveryDetail, DeliveryView, Paged, Tenant } from '../../domain/types.ts';
import type { DeliveryQuery, RetryOutcome } from '../port.ts';
import { DELIVERY_COLUMNS, toAttemptView, toDeliveryView, type AttemptRow, type DeliveryRow } from './rows.ts';
import { bothHalves, bothHalvesArgs } from './subscriber-rows.ts';
import { qualified } from '../columns.ts';
import { tenantDeliveries } from './tenant-deliveries.ts';

const PAGE = 'LIMIT ? OFFSET ?';

interface ListingSql {
  count: string;
  page: string;
  /** What both bind, before the page's own LIMIT and OFFSET. */
  args: (string | number)[];
}

/**
 * One subscriber's deliveries are read as its queued and its other deliveries, each from its own index, merged in order
 * (subscriber-rows.ts): the clause's parameters are then bound once per half.
 */
function subscriberListing(tenant: Tenant, subscriberId: number, q: DeliveryQuery): ListingSql {
  const where = ['organization_id = ?', 'extension_id = ?', 'subscriber_id = ?'];
  const args: (string | number)[] = [tenant.organizationId, tenant.extensionId, subscriberId];
  const add = (clause: string, value: string | number | undefined) => {
    if (value !== undefined) (where.push(clause), args.push(value));
  };
  add('company_id = ?', q.companyId);
  add('status = ?', q.status);
  add('event_slug = ?', q.eventSlug);
  add('created_at >= ?', q.startDate);
  add('created_at <= ?', q.endDate);
  const clause = where.join(' AND ');
  return {
    count: `SELECT sum(n) FROM (${bothHalves('count(*) AS n', clause)})`,
    page: `${bothHalves(DELIVERY_COLUMNS, clause)} ORDER BY created_at DESC, id DESC ${PAGE}`,
    args: bothHalvesArgs(args),
  };
}

/**
 * A tenant's (or one company's) deliveries through their events, newest event first: its deliveries share its
 * created_at, so SQLite sorts only the deliveries of one creation time at a time by id, never the whole listing.
 */
function tenantListing(tenant: Tenant, q: DeliveryQuery): ListingSql {
  const { from, clauses, args } = tenantDeliveries(tenant, q);
  if (q.eventSlug !== undefined) (clauses.push('e.slug = ?'), args.push(q.eventSlug));
  if (q.status !== undefined) (clauses.push('d.status = ?'), args.push(q.status));
  const where = clauses.join(' AND ');
  return {
    count: `SELECT count(*) FROM ${from} WHERE ${where}`,
    page: `SELECT ${qualified('d', DELIVERY_COLUMNS)} FROM ${from} WHERE ${where} ORDER BY e.created_at DESC, d.id DESC ${PAGE}`,
    args,
  };
}

export function sqliteDeliveries(db: Database.Database, leases: Leases) {
  const selectOne = db.prepare(
    `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = ? AND organization_id = ? AND extension_id = ?`,
  );
  const selectAttempts = db.prepare(
    'SELECT attempt, attempted_at, response_code, duration_ms, response_body, error FROM attempts WHERE delivery_id = ? ORDER BY attempt',
  );
  const subscriberState = db.prepare('SELECT status, deleted_at FROM subscribers WHERE id = ?');
  const requeue = db.prepare(`
    UPDATE deliveries SET status = ?, next_attempt_at = ?, lease_owner = NULL, run_attempts = 0, run_started_at = NULL
    WHERE id = ?`);

  function list(tenant: Tenant, q: DeliveryQuery): Paged<DeliveryView> {
    const sql = q.subscriberId === undefined ? tenantListing(tenant, q) : subscriberListing(tenant, q.subscriberId, q);
    const total = db.prepare(sql.count).pluck().get(...sql.args) as number;
    const rows = db.prepare(sql.page).all(...sql.args, q.pageSize, (q.pageNo - 1) * q.pageSize) as DeliveryRow[];
    return {
      items: rows.map(toDeliveryView),
      page: { current: q.pageNo, size: q.pageSize, item_total: total, has_next: q.pageNo * q.pageSize < total, type: 'number' },
    };
  }

  function get(tenant: Tenant, id: number): DeliveryDetail | null {
    const row = selectOne.get(id, tenant.organizationId, tenant.extensionId) as DeliveryRow | undefined;
    if (!row) return null;
    return {
      ...toDeliveryView(row),
      error: row.last_error,
      attempts: (selectAttempts.all(id) as AttemptRow[]).map(toAttemptView),
    };
  }

  const retry = db.transaction((tenant: Tenant, id: number, now: number): RetryOutcome => {
    const row = selectOne.get(id, tenant.organizationId, tenant.extensionId) as DeliveryRow | undefined;
    if (!row) return 'not-found';
    if (row.status === 'FILTER_ERROR') return 'filtered';
    const sub = subscriberState.get(row.subscriber_id) as { status: string; deleted_at: number | null } | undefined;
    if (!sub || sub.deleted_at !== null) return 'subscriber-deleted';
    leases.drop(id); // a result of an attempt still in flight no longer counts
    if (sub.status !== 'active') {
      requeue.run('RESYNC', null, id);
      return 'parked';
    }
    requeue.run('PENDING', now, id);
    return 'queued';
  });

  return { list, get, retry: (tenant: Tenant, id: number, now: number) => retry.immediate(tenant, id, now) };
}
