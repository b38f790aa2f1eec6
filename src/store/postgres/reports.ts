// Reports: aggregate queries over the attempt log and the deliveries, grouped in SQL by time bucket, response code
// or event slug, with the same semantics as sqlite/reports.ts. Only the groups come back to JavaScript, never the rows.
import type pg from 'pg';
import {
  INTERVAL_MS,
  bucketStart,
  formatMs,
  percentage,
  type DeliveryEventLevel,
  type DeliverySummaryReport,
  type DeliveryTsReport,
  type ReportQuery,
  type ResponseTimeReport,
} from '../../domain/reports.ts';
import type { Tenant } from '../../domain/types.ts';
import { Params } from './db.ts';
import { isoNow } from './rows.ts';
import { tenantEvents, THROUGH_EVENTS } from './tenant-deliveries.ts';

// How a delivery counts, by its current status. The error text is the one deleteSubscriber writes when it cancels
// queued deliveries (subscribers.ts): a cancellation, not a failure of the endpoint.
const CANCELLED = "(status = 'DISABLED' AND last_error IS NOT DISTINCT FROM 'subscriber deleted')";
const SUCCESS = "status = 'SUCCESS'";
const FAILED = `(status = 'FAILED' OR (status = 'DISABLED' AND NOT ${CANCELLED}))`;
const REMOVED = `(status = 'RESYNC' OR ${CANCELLED})`;

interface ResponseTimeRow {
  bucket: number;
  code: number;
  mean: number;
  attempts: number;
  deliveries: number;
}

interface CountsRow {
  success: number;
  failed: number;
  removed: number;
}

/** `tenant` (the tenant's condition), an inclusive range on `timeColumn`, and the optional company and subscriber filters. */
function narrowed(p: Params, tenant: string, q: ReportQuery, timeColumn: string): string {
  const clauses = [tenant, `${timeColumn} BETWEEN ${p.add(q.startDate)} AND ${p.add(q.endDate)}`];
  if (q.companyId !== undefined) clauses.push(`company_id = ${p.add(q.companyId)}`);
  if (q.subscriberId !== undefined) clauses.push(`subscriber_id = ${p.add(q.subscriberId)}`);
  return clauses.join(' AND ');
}

/**
 * The deliveries a report counts, created in its range, as a FROM source `d`: one subscriber's through
 * deliveries_by_subscriber_created, a tenant's or a company's through their events.
 */
function deliveriesOf(p: Params, tenant: Tenant, q: ReportQuery): string {
  if (q.subscriberId === undefined) return `(SELECT d.* FROM ${THROUGH_EVENTS} WHERE ${tenantEvents(p, tenant, q).join(' AND ')}) d`;
  const own = `organization_id = ${p.add(tenant.organizationId)} AND extension_id = ${p.add(tenant.extensionId)}`;
  return `(SELECT * FROM deliveries WHERE ${narrowed(p, own, q, 'created_at')}) d`;
}

/**
 * The attempts a response-time report counts. An attempt row does not repeat its tenant (migration 009): a subscriber
 * never changes tenant, so they are the attempts of the tenant's subscribers, deleted ones included, read through
 * attempts_by_subscriber_time. The company is the attempt's own (its subscriber may have moved since).
 */
function attemptsOf(p: Params, tenant: Tenant, q: ReportQuery): string {
  const subscribers = `SELECT id FROM subscribers WHERE organization_id = ${p.add(tenant.organizationId)} AND extension_id = ${p.add(tenant.extensionId)}`;
  return narrowed(p, `subscriber_id IN (${subscribers})`, q, 'attempted_at');
}

export function postgresReports(pool: pg.Pool) {
  async function responseTime(tenant: Tenant, q: ReportQuery): Promise<ResponseTimeReport> {
    const p = new Params();
    const size = p.add(INTERVAL_MS[q.interval]);
    const { rows } = await pool.query<ResponseTimeRow>(
      `SELECT attempted_at - (attempted_at % ${size}::bigint) AS bucket, response_code AS code, avg(duration_ms) AS mean,
         count(*) AS attempts, count(DISTINCT delivery_id) AS deliveries
       FROM attempts WHERE ${attemptsOf(p, tenant, q)}
       GROUP BY bucket, code ORDER BY bucket, code`,
      p.values,
    );
    return {
      avg_response_time_ts: rows.map((r) => ({
        last_attempted_on: isoNow(r.bucket),
        response_code: r.code,
        response_time: formatMs(r.mean),
        attempt: r.attempts,
        total: r.deliveries,
      })),
    };
  }

  // One statement, so the counts and the attempt timings come from one snapshot.
  async function summary(tenant: Tenant, q: ReportQuery): Promise<DeliverySummaryReport> {
    const p = new Params();
    const { rows } = await pool.query<CountsRow & { event: string; total: number; attempts: number; duration: number }>(
      `WITH counts AS (
         SELECT event_slug, count(*) FILTER (WHERE ${SUCCESS}) AS success, count(*) FILTER (WHERE ${FAILED}) AS failed,
           count(*) FILTER (WHERE ${REMOVED}) AS removed, count(*) AS total
         FROM ${deliveriesOf(p, tenant, q)}
         GROUP BY event_slug
       ),
       timings AS (
         SELECT d.event_slug, count(*) AS attempts, sum(a.duration_ms) AS duration
         FROM ${deliveriesOf(p, tenant, q)} JOIN attempts a ON a.delivery_id = d.id
         GROUP BY d.event_slug
       )
       SELECT c.event_slug AS event, c.success, c.failed, c.removed, c.total,
         coalesce(t.attempts, 0) AS attempts, coalesce(t.duration, 0) AS duration
       FROM counts c LEFT JOIN timings t ON t.event_slug = c.event_slug
       ORDER BY c.event_slug COLLATE "C"`,
      p.values,
    );

    const meanOf = (attempts: number, duration: number) => (attempts === 0 ? null : formatMs(duration / attempts));
    const all = { success: 0, failed: 0, removed: 0, total: 0, attempts: 0, duration: 0 };
    const levels: DeliveryEventLevel[] = rows.map((c) => {
      all.success += c.success;
      all.failed += c.failed;
      all.removed += c.removed;
      all.total += c.total;
      all.attempts += c.attempts;
      all.duration += c.duration;
      return {
        event: c.event,
        success: c.success,
        failed: c.failed,
        failed_percentage: percentage(c.failed, c.total),
        removed_webhooks: c.removed,
        total: c.total,
        response_time: meanOf(c.attempts, c.duration),
      };
    });
    return {
      delivery_event_level: levels,
      delivery_summary: {
        success: all.success,
        response_time: meanOf(all.attempts, all.duration),
        failed_percentage: percentage(all.failed, all.total),
        removed_webhooks: all.removed,
      },
    };
  }

  async function timeSeries(tenant: Tenant, q: ReportQuery): Promise<DeliveryTsReport> {
    const size = INTERVAL_MS[q.interval];
    const p = new Params();
    const sizeParam = p.add(size);
    const { rows } = await pool.query<CountsRow & { bucket: number }>(
      `SELECT created_at - (created_at % ${sizeParam}::bigint) AS bucket, count(*) FILTER (WHERE ${SUCCESS}) AS success,
         count(*) FILTER (WHERE ${FAILED}) AS failed, count(*) FILTER (WHERE ${REMOVED}) AS removed
       FROM ${deliveriesOf(p, tenant, q)}
       GROUP BY bucket`,
      p.values,
    );
    const byBucket = new Map(rows.map((r) => [r.bucket, r]));
    // Every bucket of the range, empty ones as zeros, so a chart needs no gap filling (at most MAX_BUCKETS).
    const items = [];
    for (let at = bucketStart(q.startDate, q.interval); at <= q.endDate; at += size) {
      const r = byBucket.get(at);
      items.push({ timestamp: isoNow(at), success: r?.success ?? 0, failed: r?.failed ?? 0, removed_webhooks: r?.removed ?? 0 });
    }
    return { delivery_ts: items };
  }

  return { responseTime, summary, timeSeries };
}
