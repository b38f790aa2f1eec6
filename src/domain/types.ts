// The domain's vocabulary: subscribers, events, deliveries and attempts as the API names them.

/** (organization, extension): nothing created under one tenant is visible under another. */
export interface Tenant {
  organizationId: string;
  extensionId: string;
}

export type SubscriberStatus = 'active' | 'inactive' | 'blocked';

export type DeliveryStatus = 'PENDING' | 'SUCCESS' | 'FAILED' | 'DISABLED' | 'RESYNC' | 'FILTER_ERROR';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['PENDING', 'SUCCESS', 'FAILED', 'DISABLED', 'RESYNC', 'FILTER_ERROR'];

export type Criteria = 'ALL' | 'EMPTY' | 'SPECIFIC-EVENTS';

export interface Association {
  company_id: number;
  application_id: string[];
  criteria: Criteria;
}

export interface RetryPolicy {
  max_attempts: number;
  max_age_seconds: number;
  initial_backoff_ms: number;
  max_backoff_ms: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  max_attempts: 20,
  max_age_seconds: 172800,
  initial_backoff_ms: 5000,
  max_backoff_ms: 14400000,
};

export const DEFAULT_TIMEOUT_MS = 10000;
export const DEFAULT_MAX_IN_FLIGHT = 32;

/** One event slug pattern a subscriber listens to, with the filter and reducer saved for it. */
export interface EventSubscription {
  slug: string;
  filters: unknown | null;
  reducer: unknown | null;
}

/** What a client sends to create or replace a subscriber, after defaults are applied. */
export interface SubscriberInput {
  name: string;
  webhook_url: string;
  association: Association;
  events: EventSubscription[];
  custom_headers: Record<string, string>;
  auth_meta: { type: string; secret: string };
  email_id: string | null;
  status: SubscriberStatus;
  retry_policy: RetryPolicy;
  timeout_ms: number;
  max_in_flight: number;
}

export interface Subscriber extends SubscriberInput {
  id: number;
  /** When a delivery to it last succeeded / failed (ISO), or null. */
  last_success_on: string | null;
  last_failure_on: string | null;
  organization_id: string;
  extension_id: string;
  created_on: string;
  updated_on: string;
}

/** An event as the router hands it to the store: routed, enveloped, ready to be made durable. */
export interface NewEvent {
  id: string;
  companyId: number;
  applicationId: string | null;
  slug: string;
  idempotencyKey: string | null;
  /** The exact JSON text delivered to subscribers without a reducer. */
  body: string;
  createdAt: number;
  deliveries: NewDelivery[];
}

export interface NewDelivery {
  subscriberId: number;
  /** FILTER_ERROR records a filter (or reducer) that failed at publish: nothing is sent. */
  status: 'PENDING' | 'RESYNC' | 'FILTER_ERROR';
  /** The body for this subscriber when a reducer reshaped it; otherwise the event's body is sent. */
  body?: string;
  /** Why the filter or reducer failed (FILTER_ERROR only). */
  error?: string;
}

export interface PublishResult {
  event_id: string;
  deliveries: number;
  duplicate: boolean;
}

export interface Page {
  current: number;
  size: number;
  item_total: number;
  has_next: boolean;
  type: 'number';
}

export interface Paged<T> {
  items: T[];
  page: Page;
}

export interface DeliveryView {
  id: number;
  event_id: string;
  event_slug: string;
  subscriber_id: number;
  company_id: number;
  status: DeliveryStatus;
  attempt: number;
  response_code: number | null;
  response_time: number | null;
  last_attempted_on: string | null;
  next_attempt_on: string | null;
  created_on: string;
}

export interface AttemptView {
  attempt: number;
  attempted_on: string;
  response_code: number;
  response_time: number;
  response_body: string | null;
  error: string | null;
}

export interface DeliveryDetail extends DeliveryView {
  error: string | null;
  attempts: AttemptView[];
}

export interface EventView {
  id: string;
  event_slug: string;
  company_id: number;
  application_id: string | null;
  created_on: string;
  body: unknown;
  deliveries: DeliveryView[];
}
