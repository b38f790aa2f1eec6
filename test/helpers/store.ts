// Store-level fixtures for tests that drive a Store (or a Dispatcher on one) without the HTTP API.
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_RETRY_POLICY, DEFAULT_TIMEOUT_MS, type SubscriberInput, type Tenant } from '../../src/domain/types.ts';
import type { Store } from '../../src/store/index.ts';

export interface QueuedSubscriber {
  webhookUrl?: string;
  maxInFlight?: number;
  timeoutMs?: number;
  /** Due deliveries to queue for it, one event each, published in one call. */
  deliveries: number;
}

/** An active subscriber with `deliveries` deliveries due now; returns its id. */
export async function queuedSubscriber(store: Store, tenant: Tenant, options: QueuedSubscriber): Promise<number> {
  const { id } = await store.createSubscriber(tenant, {
    name: 'queued',
    webhook_url: options.webhookUrl ?? 'http://127.0.0.1:9/hook',
    association: { company_id: 1, criteria: 'ALL', application_id: [] },
    events: [{ slug: 'company/product/create/v1', filters: null, reducer: null }],
    custom_headers: {},
    auth_meta: { type: 'hmac', secret: 'a-secret-of-sufficient-length' },
    email_id: null,
    status: 'active',
    retry_policy: DEFAULT_RETRY_POLICY,
    timeout_ms: options.timeoutMs ?? 1000,
    max_in_flight: options.maxInFlight ?? 10,
  }, Date.now());
  const now = Date.now();
  await store.publish(tenant, Array.from({ length: options.deliveries }, (_, i) => ({
    id: `evt_queued_${id}_${i}`,
    companyId: 1,
    applicationId: null,
    slug: 'company/product/create/v1',
    idempotencyKey: null,
    body: '{}',
    createdAt: now,
    deliveries: [{ subscriberId: id, status: 'PENDING' as const }],
  })), now);
  return id;
}

let subscriberCount = 0;
/** A complete SubscriberInput as the API hands it to the store (defaults applied). */
export function subscriberInput(overrides: Partial<SubscriberInput> = {}): SubscriberInput {
  subscriberCount++;
  return {
    name: `orders-sync-${subscriberCount}`,
    webhook_url: `https://hooks.example.com/acme/${subscriberCount}`,
    association: { company_id: 1, application_id: ['app_storefront'], criteria: 'ALL' },
    events: [
      {
        slug: 'company/product/create/v1',
        filters: { query: '$.brand.uid', condition: '(uid) => uid === 238' },
        reducer: { brand_name: '$.brand.name', skus: '$.items[*].sku', source: 'fynd' },
      },
      { slug: 'application/order/*/v1', filters: null, reducer: null },
    ],
    custom_headers: { 'x-api-key': 'abc123' },
    auth_meta: { type: 'hmac', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
    email_id: 'ops@example.com',
    status: 'active',
    retry_policy: { ...DEFAULT_RETRY_POLICY },
    timeout_ms: DEFAULT_TIMEOUT_MS,
    max_in_flight: DEFAULT_MAX_IN_FLIGHT,
    ...overrides,
  };
}
