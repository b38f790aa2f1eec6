// Report routes: response times per time bucket and response code, delivery counts per event slug and per bucket.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  DEFAULT_MAX_BUCKETS,
  MAX_BUCKETS,
  REPORT_INTERVALS,
  bucketCount,
  defaultInterval,
  type ReportQuery,
} from '../../domain/reports.ts';
import { HookdError } from '../../errors.ts';
import type { Store } from '../../store/index.ts';
import { commonErrors, PositiveInt, StringEnum, TenantParams, tenantOf } from '../schemas.ts';

const P = '/service/partner/webhook/v1.0/organization/:organization_id/extension/:extension_id';
const tags = ['reports'];
const POSITIVE = { minimum: PositiveInt.minimum, maximum: PositiveInt.maximum };

export const ReportQuerystring = Type.Object({
  start_date: Type.String({ format: 'date-time', description: 'Start of the range (inclusive), ISO-8601 date-time, e.g. 2026-11-01T00:00:00Z' }),
  end_date: Type.String({ format: 'date-time', description: 'End of the range (inclusive), ISO-8601 date-time; not before start_date' }),
  company_id: Type.Optional(Type.Integer({ ...POSITIVE, description: 'Only this company' })),
  subscriber_id: Type.Optional(Type.Integer({ ...POSITIVE, description: 'Only this subscriber' })),
  interval: Type.Optional(
    StringEnum(REPORT_INTERVALS, {
      description:
        `Bucket size; buckets are UTC minutes, hours or days (a bucket starts at a multiple of its size since the epoch). ` +
        `Default: the finest giving at most ${DEFAULT_MAX_BUCKETS} buckets over the range (day when none does). ` +
        `An interval giving more than ${MAX_BUCKETS} buckets is a 400.`,
    }),
  ),
});

const RANGE =
  'start_date and end_date are required; end_date before start_date, or a range of more than ' +
  `${MAX_BUCKETS} buckets of the interval, is a 400. company_id and subscriber_id narrow the report; an unknown one ` +
  'gives an empty report.';

const DELIVERY_COUNTS =
  'It counts the deliveries (one event × one subscriber) created in the range — the same rows GET P/delivery lists for ' +
  'the same start_date, end_date, company_id and subscriber_id — each once, by its current status: ' +
  'success = SUCCESS; ' +
  'failed = FAILED (last attempt failed, another is scheduled) or DISABLED after its retries ran out; ' +
  'removed_webhooks = deliveries held back by their subscriber rather than by a failed attempt: cancelled because the ' +
  'subscriber was deleted (DISABLED with error "subscriber deleted"), or parked as RESYNC while it is inactive or blocked. ' +
  'Deliveries still queued for their first attempt (PENDING) and FILTER_ERROR records count only in total.';

export function toReportQuery(q: Static<typeof ReportQuerystring>): ReportQuery {
  const startDate = Date.parse(q.start_date);
  const endDate = Date.parse(q.end_date);
  if (Number.isNaN(startDate)) throw new HookdError('VALIDATION_ERROR', 'querystring.start_date is not a valid date-time');
  if (Number.isNaN(endDate)) throw new HookdError('VALIDATION_ERROR', 'querystring.end_date is not a valid date-time');
  if (endDate < startDate) throw new HookdError('VALIDATION_ERROR', 'querystring.end_date must not be before start_date');
  const interval = q.interval ?? defaultInterval(startDate, endDate);
  const buckets = bucketCount(startDate, endDate, interval);
  if (buckets > MAX_BUCKETS) {
    throw new HookdError(
      'VALIDATION_ERROR',
      `querystring.interval: ${interval} buckets over this range would be ${buckets}, more than ${MAX_BUCKETS}; choose a coarser interval or a shorter range`,
    );
  }
  return { startDate, endDate, companyId: q.company_id, subscriberId: q.subscriber_id, interval };
}

const Counts = {
  success: Type.Integer({ description: 'Deliveries in SUCCESS' }),
  failed: Type.Integer({ description: 'Deliveries FAILED, or DISABLED after their retries ran out' }),
  removed_webhooks: Type.Integer({ description: 'Deliveries cancelled by a subscriber deletion, or parked as RESYNC' }),
};
const FailedPercentage = Type.Number({ description: 'failed / total × 100, rounded to two decimals; 0 when total is 0' });
const MeanResponseTime = Type.Union([Type.String({ description: 'e.g. "139.50"' }), Type.Null()], {
  description: 'Mean duration in ms (two decimals, as a string) of every attempt made for these deliveries; null when none was attempted',
});

export const ResponseTimeTs = Type.Object({
  avg_response_time_ts: Type.Array(
    Type.Object({
      last_attempted_on: Type.String({ description: "The time bucket's start, ISO-8601 UTC" }),
      response_code: Type.Integer({ description: 'HTTP status of the attempts; 0 for a network error or time-out' }),
      response_time: Type.String({ description: 'Mean attempt duration in ms with two decimals, e.g. "139.50"' }),
      attempt: Type.Integer({ description: 'Number of attempts in this bucket with this code' }),
      total: Type.Integer({ description: 'Number of distinct deliveries those attempts belong to' }),
    }),
  ),
});

export const DeliverySummary = Type.Object({
  delivery_event_level: Type.Array(
    Type.Object({
      event: Type.String({ description: 'Event slug, e.g. company/product/create/v1' }),
      success: Counts.success,
      failed: Counts.failed,
      failed_percentage: FailedPercentage,
      removed_webhooks: Counts.removed_webhooks,
      total: Type.Integer({ description: 'All deliveries of this slug, any status' }),
      response_time: MeanResponseTime,
    }),
    { description: 'One item per event slug, sorted by slug' },
  ),
  delivery_summary: Type.Object(
    { success: Counts.success, response_time: MeanResponseTime, failed_percentage: FailedPercentage, removed_webhooks: Counts.removed_webhooks },
    { description: 'The same figures over all event slugs' },
  ),
});

export const DeliveryTs = Type.Object({
  delivery_ts: Type.Array(
    Type.Object({ timestamp: Type.String({ description: "The time bucket's start, ISO-8601 UTC" }), ...Counts }),
    { description: 'Every bucket from the one holding start_date to the one holding end_date, empty ones as zeros' },
  ),
});

export const reportRoutes: FastifyPluginAsyncTypebox<{ store: Store }> = async (app, { store }) => {
  app.get(`${P}/report/response_time_ts`, {
    schema: {
      tags,
      summary: 'Response time summary',
      description:
        'One item per (time bucket, response code) of the delivery attempts made in the range (by attempt time), ' +
        'sorted by time then code; buckets and codes without attempts are left out. ' + RANGE,
      params: TenantParams,
      querystring: ReportQuerystring,
      response: { 200: ResponseTimeTs, ...commonErrors },
    },
  }, async (req) => store.responseTimeReport(tenantOf(req.params), toReportQuery(req.query)));

  app.get(`${P}/report/delivery_summary`, {
    schema: {
      tags,
      summary: 'Delivery counts per event slug',
      description: DELIVERY_COUNTS + ' ' + RANGE + ' interval is accepted (and checked) for symmetry but does not change this report.',
      params: TenantParams,
      querystring: ReportQuerystring,
      response: { 200: DeliverySummary, ...commonErrors },
    },
  }, async (req) => store.deliverySummary(tenantOf(req.params), toReportQuery(req.query)));

  app.get(`${P}/report/delivery_ts`, {
    schema: {
      tags,
      summary: 'Delivery counts per time bucket',
      description: DELIVERY_COUNTS + ' Buckets are by created_on. ' + RANGE,
      params: TenantParams,
      querystring: ReportQuerystring,
      response: { 200: DeliveryTs, ...commonErrors },
    },
  }, async (req) => store.deliveryTimeSeries(tenantOf(req.params), toReportQuery(req.query)));
};
