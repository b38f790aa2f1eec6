// Reports: their shapes as the API names them, and the pure rules for time buckets.

export type ReportInterval = 'minute' | 'hour' | 'day';

export const REPORT_INTERVALS: readonly ReportInterval[] = ['minute', 'hour', 'day'];

/** Bucket sizes in ms. Buckets start at multiples of the size since the epoch, so days are UTC days. */
export const INTERVAL_MS: Record<ReportInterval, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** The default interval is the finest giving at most this many buckets over the range. */
export const DEFAULT_MAX_BUCKETS = 200;
/** An interval giving more buckets than this is refused: the answer would be too large to be useful. */
export const MAX_BUCKETS = 10_000;

/** Start of the bucket holding `at` (epoch ms, UTC). */
export const bucketStart = (at: number, interval: ReportInterval): number => at - (at % INTERVAL_MS[interval]);

/** How many buckets of `interval` the inclusive range [start, end] touches. */
export const bucketCount = (start: number, end: number, interval: ReportInterval): number =>
  (bucketStart(end, interval) - bucketStart(start, interval)) / INTERVAL_MS[interval] + 1;

/** The finest interval giving at most DEFAULT_MAX_BUCKETS buckets over [start, end]; `day` when none does. */
export function defaultInterval(start: number, end: number): ReportInterval {
  return REPORT_INTERVALS.find((i) => bucketCount(start, end, i) <= DEFAULT_MAX_BUCKETS) ?? 'day';
}

/** A mean in milliseconds as the reports show it: a string with two decimals, e.g. "139.50". */
export const formatMs = (ms: number): string => ms.toFixed(2);

/** A percentage with at most two decimals; 0 when the whole is 0. */
export const percentage = (part: number, whole: number): number => (whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 100);

/** Which attempts or deliveries a report covers: tenant-wide, or narrowed to a company and/or a subscriber. */
export interface ReportQuery {
  /** Inclusive range, epoch ms. */
  startDate: number;
  endDate: number;
  companyId?: number;
  subscriberId?: number;
  interval: ReportInterval;
}

/** One (time bucket, response code) of GET P/report/response_time_ts. */
export interface ResponseTimeItem {
  /** The bucket's start, ISO-8601 UTC. */
  last_attempted_on: string;
  /** HTTP status; 0 for a network error or time-out. */
  response_code: number;
  /** Mean attempt duration in ms, two decimals. */
  response_time: string;
  /** Attempts in this bucket with this code. */
  attempt: number;
  /** Distinct deliveries those attempts belong to. */
  total: number;
}

export interface ResponseTimeReport {
  avg_response_time_ts: ResponseTimeItem[];
}

/** Delivery counts of one event slug (GET P/report/delivery_summary). */
export interface DeliveryEventLevel {
  event: string;
  success: number;
  failed: number;
  failed_percentage: number;
  removed_webhooks: number;
  total: number;
  /** Mean duration of the attempts made for these deliveries, ms with two decimals; null when none was attempted. */
  response_time: string | null;
}

export interface DeliverySummaryReport {
  delivery_event_level: DeliveryEventLevel[];
  delivery_summary: {
    success: number;
    response_time: string | null;
    failed_percentage: number;
    removed_webhooks: number;
  };
}

/** One time bucket of GET P/report/delivery_ts. */
export interface DeliveryTsItem {
  timestamp: string;
  success: number;
  failed: number;
  removed_webhooks: number;
}

export interface DeliveryTsReport {
  delivery_ts: DeliveryTsItem[];
}
