// Operations on many deliveries at once (bulk retry, retention) and secret rotation, each a few statements.
import type Database from 'better-sqlite3';
import type { Leases } from './leases.ts';
import type { Tenant } from '../../domain/types.ts';
import type { BulkRetryQuery } from '../port.ts';
import { SUBSCRIBER_HALVES, type SubscriberHalf } from './subscriber-rows.ts';
import { tenantEvents } from './tenant-deliveries.ts';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export function sqliteLifecycle(db: Database.Database, leases: Leases) {
  const rotate = db.prepare(`
    UPDATE subscribers SET previous_secret = secret, previous_secret_until = ?, secret = ?, updated_at = ?
    WHERE id = ? AND organization_id = ? AND extension_id = ? AND deleted_at IS NULL`);

  // Retention: each statement removes at most `batch` rows, so a purge never holds the writer for long.
  // Attempts go from the oldest id on: ids follow attempt time (an attempt gets its id when its answer is written, at
  // most a time-out after it began), so the oldest `batch` ids are where expired ones are, with no index on the time.
  const purgeAttempts = db.prepare(`
    DELETE FROM attempts WHERE id IN (
      SELECT id FROM (SELECT id, attempted_at FROM attempts ORDER BY id LIMIT $batch) WHERE attempted_at < $cutoff)`);
  // Deliveries through their events, oldest first: a delivery has its event's created_at, and one index entry per
  // event is cheaper for a publish to write than one per delivery (migration 010). CROSS JOIN keeps that order of
  // the loops. Events whose deliveries are all still queued or parked are walked past at each call, as the index on
  // the deliveries' own time walked past those deliveries.
  const purgeDeliveries = db.prepare(`
    DELETE FROM deliveries WHERE id IN (
      SELECT d.id FROM events e INDEXED BY events_by_created CROSS JOIN deliveries d INDEXED BY deliveries_by_event
      WHERE e.created_at < ? AND d.event_seq = e.seq AND d.status IN ('SUCCESS', 'DISABLED', 'FILTER_ERROR') LIMIT ?)`);
  const purgeEvents = db.prepare(`
    DELETE FROM events WHERE seq IN (
      SELECT seq FROM events e WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq) LIMIT ?)`);
  const purgeKeys = db.prepare(`
    DELETE FROM idempotency_keys WHERE (organization_id, extension_id, company_id, key) IN (
      SELECT organization_id, extension_id, company_id, key FROM idempotency_keys WHERE created_at < ? LIMIT ?)`);

  const purge = db.transaction((cutoff: number, batch: number, now: number): number => {
    let removed = purgeAttempts.run({ cutoff, batch }).changes;
    removed += purgeDeliveries.run(cutoff, batch).changes;
    removed += purgeEvents.run(cutoff, batch).changes;
    removed += purgeKeys.run(Math.min(cutoff, now - IDEMPOTENCY_TTL_MS), batch).changes;
    return removed;
  });

  function requeue(tenant: Tenant, q: BulkRetryQuery, now: number): { queued: number } {
    const statuses = [
      `d.status IN (${q.statuses.map(() => '?').join(', ')})`,
      // A FILTER_ERROR is a record of a filter that failed, never something to send.
      "d.status <> 'FILTER_ERROR'",
    ];
    const subscriberIds = q.subscriberIds?.length ? q.subscriberIds : undefined;
    let where: string[];
    let args: (string | number)[];
    if (subscriberIds) {
      where = [
        'd.organization_id = ?', 'd.extension_id = ?', 'd.created_at >= ?', 'd.created_at <= ?', ...statuses,
        `d.subscriber_id IN (${subscriberIds.map(() => '?').join(', ')})`,
      ];
      args = [tenant.organizationId, tenant.extensionId, q.startDate, q.endDate, ...q.statuses, ...subscriberIds];
    } else {
      // The whole tenant's: its events (tenant-deliveries.ts), then each one's deliveries through deliveries_by_event.
      const events = tenantEvents(tenant, q);
      where = [`d.event_seq IN (SELECT e.seq FROM ${events.from} WHERE ${events.clauses.join(' AND ')})`, ...statuses];
      args = [...events.args, ...q.statuses];
    }
    if (q.eventSlugs?.length) {
      where.push(`d.event_slug IN (${q.eventSlugs.map(() => '?').join(', ')})`);
      args.push(...q.eventSlugs);
    }
    // One statement, however many rows match (by subscriber, one per half of its deliveries): deliveries of an active
    // subscriber go back in the queue; those of an inactive or blocked one are parked as RESYNC.
    const update = (half?: SubscriberHalf) =>
      db.prepare(`
        UPDATE deliveries AS d${half ? ` INDEXED BY ${half.index}` : ''} SET
          status = CASE WHEN s.status = 'active' THEN 'PENDING' ELSE 'RESYNC' END,
          next_attempt_at = CASE WHEN s.status = 'active' THEN ? ELSE NULL END,
          lease_owner = NULL, run_attempts = 0, run_started_at = NULL
        FROM subscribers AS s
        WHERE s.id = d.subscriber_id AND s.deleted_at IS NULL AND ${where.join(' AND ')}${half ? ` AND d.${half.condition}` : ''}
        RETURNING id`);
    if (subscriberIds) {
      const halves = SUBSCRIBER_HALVES.filter((half) => q.statuses.some((status) => half.holds(status)));
      return requeueBySubscriber(halves.map(update), now, args);
    }
    // Queued deliveries may be in flight: their leases are revoked, so a late result no longer counts.
    if (!q.statuses.some((s) => s === 'PENDING' || s === 'FAILED')) return { queued: update().run(now, ...args).changes };
    const ids = update().pluck().all(now, ...args) as number[];
    leases.dropAll(ids);
    return { queued: ids.length };
  }

  /**
   * By subscriber: one statement per half of a subscriber's deliveries that the statuses asked for reach
   * (subscriber-rows.ts), each reading one index. A row the first re-queued can match the second (it is PENDING or RESYNC
   * now, and those may be asked for): doing it again changes nothing, and it is counted once.
   */
  const requeueBySubscriber = db.transaction((updates: Database.Statement[], now: number, args: (string | number)[]): { queued: number } => {
    const ids = new Set<number>();
    for (const update of updates) for (const id of update.pluck().all(now, ...args) as number[]) ids.add(id);
    leases.dropAll(ids);
    return { queued: ids.size };
  });

  return {
    requeue,
    rotate: (tenant: Tenant, id: number, secret: string, previousUntil: number, now: number): boolean =>
      rotate.run(previousUntil, secret, now, id, tenant.organizationId, tenant.extensionId).changes > 0,
    purge: (cutoff: number, batch: number, now: number): number => purge.immediate(cutoff, batch, now),
  };
}
