// Row ↔ domain mapping for the SQLite adapter: the one place that knows column names and JSON columns.
import type { ApiKeyRecord, ClaimedDelivery } from '../port.ts';
import type { AttemptView, DeliveryStatus, DeliveryView, Subscriber, SubscriberStatus } from '../../domain/types.ts';

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
export const isoNow = (ms: number): string => new Date(ms).toISOString();

export interface SubscriberRow {
  id: number;
  organization_id: string;
  extension_id: string;
  company_id: number;
  name: string;
  webhook_url: string;
  association: string;
  custom_headers: string;
  auth_type: string;
  secret: string;
  email_id: string | null;
  status: string;
  retry_policy: string;
  timeout_ms: number;
  max_in_flight: number;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  previous_secret: string | null;
  previous_secret_until: number | null;
  last_success_at: number | null;
  last_failure_at: number | null;
}

export interface SubscriptionRow {
  subscriber_id: number;
  slug: string;
  filters: string | null;
  reducer: string | null;
}

const parseOrNull = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

export function toSubscriber(row: SubscriberRow, subscriptions: SubscriptionRow[]): Subscriber {
  return {
    id: row.id,
    organization_id: row.organization_id,
    extension_id: row.extension_id,
    name: row.name,
    webhook_url: row.webhook_url,
    association: JSON.parse(row.association),
    events: subscriptions.map((s) => ({ slug: s.slug, filters: parseOrNull(s.filters), reducer: parseOrNull(s.reducer) })),
    custom_headers: JSON.parse(row.custom_headers),
    auth_meta: { type: row.auth_type, secret: row.secret },
    email_id: row.email_id,
    status: row.status as SubscriberStatus,
    retry_policy: JSON.parse(row.retry_policy),
    timeout_ms: row.timeout_ms,
    max_in_flight: row.max_in_flight,
    created_on: isoNow(row.created_at),
    updated_on: isoNow(row.updated_at),
    last_success_on: iso(row.last_success_at ?? null),
    last_failure_on: iso(row.last_failure_at ?? null),
  };
}

export interface DeliveryRow {
  id: number;
  event_id: string;
  event_slug: string;
  subscriber_id: number;
  company_id: number;
  status: string;
  attempt_count: number;
  last_response_code: number | null;
  last_response_time: number | null;
  last_attempt_at: number | null;
  next_attempt_at: number | null;
  last_error: string | null;
  created_at: number;
}

export const DELIVERY_COLUMNS =
  'id, event_id, event_slug, subscriber_id, company_id, status, attempt_count, last_response_code, ' +
  'last_response_time, last_attempt_at, next_attempt_at, last_error, created_at';

export function toDeliveryView(row: DeliveryRow): DeliveryView {
  const queued = row.status === 'PENDING' || row.status === 'FAILED';
  return {
    id: row.id,
    event_id: row.event_id,
    event_slug: row.event_slug,
    subscriber_id: row.subscriber_id,
    company_id: row.company_id,
    status: row.status as DeliveryStatus,
    attempt: row.attempt_count,
    response_code: row.last_response_code,
    response_time: row.last_response_time,
    last_attempted_on: iso(row.last_attempt_at),
    next_attempt_on: queued ? iso(row.next_attempt_at) : null,
    created_on: isoNow(row.created_at),
  };
}

export interface AttemptRow {
  attempt: number;
  attempted_at: number;
  response_code: number;
  duration_ms: number;
  response_body: string | null;
  error: string | null;
}

export const toAttemptView = (row: AttemptRow): AttemptView => ({
  attempt: row.attempt,
  attempted_on: isoNow(row.attempted_at),
  response_code: row.response_code,
  response_time: row.duration_ms,
  response_body: row.response_body,
  error: row.error,
});

export interface ApiKeyRow {
  id: string;
  organization_id: string;
  name: string | null;
  hash: string;
  created_at: number;
  revoked_at: number | null;
}

export const toApiKeyRecord = (r: ApiKeyRow): ApiKeyRecord => ({
  id: r.id,
  organization_id: r.organization_id,
  name: r.name,
  hash: r.hash,
  created_on: isoNow(r.created_at),
  revoked_on: iso(r.revoked_at),
});

/** The columns of a claimed delivery as PostgreSQL's claim returns them (SQLite's reads them as arrays: dispatch.ts). */
export interface ClaimedRow {
  id: number;
  event_id: string;
  subscriber_id: number;
  attempt_count: number;
  run_attempts: number;
  run_started_at: number | null;
}

/** `body`: the delivery's own (a reducer's) or its event's. */
export const toClaimedDelivery = (row: ClaimedRow, body: Uint8Array): ClaimedDelivery => ({
  id: row.id,
  eventId: row.event_id,
  subscriberId: row.subscriber_id,
  attemptCount: row.attempt_count,
  runAttempts: row.run_attempts,
  runStartedAt: row.run_started_at,
  body,
});
