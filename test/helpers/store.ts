// Store-level fixtures for tests that drive a Store (or a Dispatcher on one) without the HTTP API.
import { DEFAULT_RETRY_POLICY, type Tenant } from '../../src/domain/types.ts';
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
