// The Store port: everything hookd keeps, batch-first. delivery/ and api/ import only this file from store/.
import type {
  DeliveryDetail,
  DeliveryStatus,
  DeliveryView,
  EventSubscription,
  EventView,
  NewEvent,
  Paged,
  PublishResult,
  Subscriber,
  SubscriberInput,
  SubscriberStatus,
  Tenant,
} from '../domain/types.ts';
import type { DeliverySummaryReport, DeliveryTsReport, ReportQuery, ResponseTimeReport } from '../domain/reports.ts';

export type { ReportQuery } from '../domain/reports.ts';

export type DispatchSubscriber = Subscriber & {
  deleted: boolean;
  /** The secret before the last rotation, still signing alongside the new one until previousSecretUntil. */
  previousSecret: string | null;
  previousSecretUntil: number | null;
};

/** What recording a batch of attempts changed beyond the deliveries themselves. */
export interface RecordSummary {
  /** Subscribers this batch blocked (they were active, and now their queued deliveries wait as RESYNC). */
  blocked: number[];
}

/** POST P/retry: which deliveries to queue again. Dates bound created_on (inclusive), epoch ms. */
export interface BulkRetryQuery {
  startDate: number;
  endDate: number;
  subscriberIds?: number[];
  eventSlugs?: string[];
  statuses: DeliveryStatus[];
}

export interface PageQuery {
  pageNo: number;
  pageSize: number;
}

export interface SubscriberQuery extends PageQuery {
  companyId?: number;
  status?: SubscriberStatus;
}

export interface DeliveryQuery extends PageQuery {
  companyId?: number;
  subscriberId?: number;
  status?: DeliveryStatus;
  eventSlug?: string;
  startDate?: number;
  endDate?: number;
}

/** Ask for up to `limit` due deliveries of one subscriber, leased until now + leaseMs. */
export interface ClaimRequest {
  subscriberId: number;
  limit: number;
  leaseMs: number;
}

export interface ClaimedDelivery {
  id: number;
  eventId: string;
  subscriberId: number;
  /** Attempts made before this one, in all runs (the next attempt's number is this + 1). */
  attemptCount: number;
  /** Attempts made before this one since the delivery was (re-)queued: what the retry policy counts. */
  runAttempts: number;
  /** First attempt of the current run, epoch ms; null when this is the first. */
  runStartedAt: number | null;
  /** The exact bytes to sign and send: the JSON text in UTF-8, one Uint8Array shared by an event's deliveries. */
  body: Uint8Array;
}

export interface ClaimResult {
  deliveries: ClaimedDelivery[];
  /** For every subscriber asked about: when its earliest queued delivery falls due (null: none queued). */
  nextDue: Map<number, number | null>;
}

export type AttemptOutcome =
  | { kind: 'success' }
  | { kind: 'retry'; nextAttemptAt: number }
  /** `gone`: the endpoint answered 410, which blocks its subscriber at once. */
  | { kind: 'give-up'; gone?: boolean }
  /** Not attempted: the subscriber stopped being active after the claim; the delivery waits as RESYNC. */
  | { kind: 'park' };

export interface AttemptResult {
  deliveryId: number;
  subscriberId: number;
  /** This attempt's number over the delivery's whole life (1-based). */
  attempt: number;
  attemptedAt: number;
  /** The run's first attempt, so a retry keeps it and max_age_seconds counts from there. */
  runStartedAt: number;
  durationMs: number;
  /** HTTP status, or 0 for a network error or time-out. */
  responseCode: number;
  responseBody: string | null;
  error: string | null;
  outcome: AttemptOutcome;
}

export interface DueSubscriber {
  subscriberId: number;
  nextAttemptAt: number;
}

export interface ApiKeyRecord {
  id: string;
  organization_id: string;
  name: string | null;
  hash: string;
  created_on: string;
  revoked_on: string | null;
}

/** `filtered`: a FILTER_ERROR delivery is a record of a filter that failed, not something that can be sent. */
export type RetryOutcome = 'queued' | 'parked' | 'not-found' | 'subscriber-deleted' | 'filtered';

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  /** Resolves when the store answers; rejects otherwise (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Called after any subscriber or subscription change, so caches can drop what they hold. */
  onSubscribersChanged(listener: () => void): void;
  /**
   * Called when this process or another queued work: the subscribers concerned, or 'all' when unknown. Publishing in
   * this process calls it once per commit, for the subscribers of the PENDING deliveries it wrote (SQLite right after
   * the commit, before the sync its 202 waits for); PostgreSQL also calls it for NOTIFYs from other processes.
   */
  onWork(listener: (subscriberIds: number[] | 'all') => void): void;

  createSubscriber(tenant: Tenant, input: SubscriberInput, now: number): Promise<Subscriber>;
  getSubscriber(tenant: Tenant, id: number): Promise<Subscriber | null>;
  /** Any tenant's subscriber, deleted ones included: the dispatcher's view. */
  getSubscriberForDispatch(id: number): Promise<DispatchSubscriber | null>;
  listSubscribers(tenant: Tenant, query: SubscriberQuery): Promise<Paged<Subscriber>>;
  replaceSubscriber(tenant: Tenant, id: number, input: SubscriberInput, now: number): Promise<Subscriber | null>;
  /** Sets active/inactive; activation re-queues RESYNC deliveries. Returns false for an unknown id. */
  setSubscriberStatus(tenant: Tenant, id: number, status: SubscriberStatus, now: number): Promise<boolean>;
  /** Soft-deletes; queued deliveries become DISABLED, history is kept. */
  deleteSubscriber(tenant: Tenant, id: number, now: number): Promise<boolean>;
  /**
   * Sets the filter and/or reducer of one (subscriber, event slug); a field left undefined is unchanged,
   * null removes it. Returns null when the subscriber or the slug is unknown.
   */
  saveSubscriptionRules(
    tenant: Tenant,
    subscriberId: number,
    slug: string,
    changes: { filters?: unknown | null; reducer?: unknown | null },
    now: number,
  ): Promise<EventSubscription | null>;
  /** Every subscriber of one company that publish-time routing must consider (not deleted). */
  routableSubscribers(tenant: Tenant, companyId: number): Promise<Subscriber[]>;

  /** Makes events and all their deliveries durable in one transaction, honouring idempotency keys. */
  publish(tenant: Tenant, events: NewEvent[], now: number): Promise<PublishResult[]>;
  getEvent(tenant: Tenant, eventId: string): Promise<EventView | null>;

  listDeliveries(tenant: Tenant, query: DeliveryQuery): Promise<Paged<DeliveryView>>;
  getDelivery(tenant: Tenant, id: number): Promise<DeliveryDetail | null>;
  retryDelivery(tenant: Tenant, id: number, now: number): Promise<RetryOutcome>;
  /** Queues matching deliveries again in one statement (never loaded into memory); returns how many. */
  requeueDeliveries(tenant: Tenant, query: BulkRetryQuery, now: number): Promise<{ queued: number }>;
  /** Replaces the signing secret; the old one keeps signing until `previousUntil`. False for an unknown id. */
  rotateSecret(tenant: Tenant, id: number, secret: string, previousUntil: number, now: number): Promise<boolean>;
  /**
   * Deletes at most `batch` rows older than `cutoff`: attempts, finished deliveries, events with no delivery left,
   * expired idempotency keys. Returns how many rows went, so the caller can go on until 0.
   */
  purgeExpired(cutoff: number, batch: number, now: number): Promise<number>;

  /** Reports, each one aggregate query (never rows loaded into memory). response_time_ts covers attempts by attempted_at. */
  responseTimeReport(tenant: Tenant, query: ReportQuery): Promise<ResponseTimeReport>;
  /** Deliveries created in the range (as GET P/delivery's dates), counted once each by their current status. */
  deliverySummary(tenant: Tenant, query: ReportQuery): Promise<DeliverySummaryReport>;
  /** The same counts per time bucket of created_at, every bucket of the range included (zeros too). */
  deliveryTimeSeries(tenant: Tenant, query: ReportQuery): Promise<DeliveryTsReport>;

  /** Leases due deliveries for several subscribers in one transaction. */
  claim(requests: ClaimRequest[], owner: string, now: number): Promise<ClaimResult>;
  /**
   * Records attempts and moves their deliveries on, in one transaction; ignores rows whose lease `owner` lost.
   * A give-up blocks the subscriber when it has had no success since that delivery's run began (or on a 410).
   */
  recordAttempts(results: AttemptResult[], owner: string): Promise<RecordSummary>;
  /**
   * Hands back the leases `owner` holds, every one (graceful shutdown) or only those on `ids` (claimed but not sent
   * in time), so the deliveries are due at once.
   */
  releaseLeases(owner: string, now: number, ids?: number[]): Promise<number>;
  /** Subscribers with queued deliveries and when the earliest falls due: the dispatcher's start-up and safety scan. */
  dueSubscribers(): Promise<DueSubscriber[]>;
  /** Deliveries waiting to be sent (PENDING or FAILED), for the hookd_queue_depth gauge. */
  queueDepth(): Promise<number>;

  insertApiKey(record: { id: string; organizationId: string; name: string | null; hash: string }, now: number): Promise<void>;
  findApiKey(id: string): Promise<ApiKeyRecord | null>;
  listApiKeys(organizationId?: string): Promise<ApiKeyRecord[]>;
  revokeApiKey(id: string, now: number): Promise<boolean>;
  countActiveApiKeys(): Promise<number>;
}
