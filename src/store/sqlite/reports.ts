// Reports: aggregate queries over the attempt log and the deliveries, grouped in SQL by time bucket, response
// code or event slug. Only the groups come back to JavaScript, never the rows (see 002_reports.sql for indexes).
import type Database from 'better-sqlite3';
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
import { isoNow } from './rows.ts';
import { bySubscriber } from './subscriber-rows.ts';
import { tenantDeliveries } from './tenant-deliveries.ts';

// How a delivery counts, by its current status. The error text is the one deleteSubscriber writes when it cancels
// queued deliveries (subscribers.ts): a cancellation, not a failure of the endpoint.
const CANCELLED = "(status = 'DISABLED' AND last_error IS 'subscriber deleted')";
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
  total: number;
}

export function sqliteReports(db: Database.Database) {
  const statements = new Map<string, Database.Statement>();
  const prepared = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = db.prepare(sql)));
    return statement;
  };

  /** The tenant's clauses, its inclusive time range, and the report's optional company and subscriber filters. */
  function narrowed(clauses: string[], tenant: Tenant, q: ReportQuery) {
    const args: (string | number)[] = [tenant.organizationId, tenant.extensionId, q.startDate, q.endDate];
    if (q.companyId !== undefined) (clauses.push('company_id = ?'), args.push(q.companyId));
    if (q.subscriberId !== undefined) (clauses.push('subscriber_id = ?'), args.push(q.subscriberId));
    return { clause: clauses.join(' AND '), args };
  }

  /**
   * The deliveries a report counts, created in its range, as a FROM source: one subscriber's through its two indexes,
   * a tenant's or a company's through their events.
   */
  const deliveriesOf = (tenant: Tenant, q: ReportQuery): { source: string; args: (string | number)[] } => {
    if (q.subscriberId !== undefined) {
      const { clause, args } = narrowed(['organization_id = ?', 'extension_id = ?', 'created_at BETWEEN ? AND ?'], tenant, q);
      return bySubscriber(clause, args);
    }
    const { from, clauses, args } = tenantDeliveries(tenant, q);
    return { source: `(SELECT d.* FROM ${from} WHERE ${clauses.join(' AND ')})`, args };
  };

  /**
   * The attempts a response-time report counts. An attempt row does not repeat its tenant (migration 009): a subscriber
   * never changes tenant, so they are the attempts of the tenant's subscribers, deleted ones included, one range of
   * attempts_by_subscriber_time each. The company is the attempt's own (its subscriber may have moved since).
   */
  const attemptsWhere = (tenant: Tenant, q: ReportQuery) =>
    narrowed(['subscriber_id IN (SELECT id FROM subscribers WHERE organization_id = ? AND extension_id = ?)', 'attempted_at BETWEEN ? AND ?'], tenant, q);

  function responseTime(tenant: Tenant, q: ReportQuery): ResponseTimeReport {
    const { clause, args } = attemptsWhere(tenant, q);
    const rows = prepared(`
      SELECT attempted_at - (attempted_at % ?) AS bucket, response_code AS code, avg(duration_ms) AS mean,
        count(*) AS attempts, count(DISTINCT delivery_id) AS deliveries
      FROM attempts INDEXED BY attempts_by_subscriber_time WHERE ${clause}
      GROUP BY bucket, code ORDER BY bucket, code`).all(INTERVAL_MS[q.interval], ...args) as ResponseTimeRow[];
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

  const summary = db.transaction((tenant: Tenant, q: ReportQuery): DeliverySummaryReport => {
    const { source, args } = deliveriesOf(tenant, q);
    const counts = prepared(`
      SELECT event_slug AS event, sum(${SUCCESS}) AS success, sum(${FAILED}) AS failed, sum(${REMOVED}) AS removed,
        count(*) AS total
      FROM ${source}
      GROUP BY event_slug ORDER BY event_slug`).all(...args) as (CountsRow & { event: string })[];
    const timings = prepared(`
      SELECT d.event_slug AS event, count(*) AS attempts, total(a.duration_ms) AS duration
      FROM ${source} d JOIN attempts a ON a.delivery_id = d.id
      GROUP BY d.event_slug`).all(...args) as { event: string; attempts: number; duration: number }[];
    const timing = new Map(timings.map((t) => [t.event, t]));

    const meanOf = (attempts: number, duration: number) => (attempts === 0 ? null : formatMs(duration / attempts));
    const all = { success: 0, failed: 0, removed: 0, total: 0, attempts: 0, duration: 0 };
    const levels: DeliveryEventLevel[] = counts.map((c) => {
      const t = timing.get(c.event) ?? { attempts: 0, duration: 0 };
      all.success += c.success;
      all.failed += c.failed;
      all.removed += c.removed;
      all.total += c.total;
      all.attempts += t.attempts;
      all.duration += t.duration;
      return {
        event: c.event,
        success: c.success,
        failed: c.failed,
        failed_percentage: percentage(c.failed, c.total),
        removed_webhooks: c.removed,
        total: c.total,
        response_time: meanOf(t.attempts, t.duration),
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
  });

  function timeSeries(tenant: Tenant, q: ReportQuery): DeliveryTsReport {
    const size = INTERVAL_MS[q.interval];
    const { source, args } = deliveriesOf(tenant, q);
    const rows = prepared(`
      SELECT created_at - (created_at % ?) AS bucket, sum(${SUCCESS}) AS success, sum(${FAILED}) AS failed,
        sum(${REMOVED}) AS removed
      FROM ${source}
      GROUP BY bucket`).all(size, ...args) as (Omit<CountsRow, 'total'> & { bucket: number })[];
    const byBucket = new Map(rows.map((r) => [r.bucket, r]));
    // Every bucket of the range, empty ones as zeros, so a chart needs no gap filling (at most MAX_BUCKETS).
    const items = [];
    for (let at = bucketStart(q.startDate, q.interval); at <= q.endDate; at += size) {
      const r = byBucket.get(at);
      items.push({ timestamp: isoNow(at), success: r?.success ?? 0, failed: r?.failed ?? 0, removed_webhooks: r?.removed ?? 0 });
    }
    return { delivery_ts: items };
  }

  return { responseTime, summary: (tenant: Tenant, q: ReportQuery) => summary.deferred(tenant, q), timeSeries };
}
