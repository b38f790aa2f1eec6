// The Store contract: one suite, written against the port only, run on every adapter (SQLite, PostgreSQL).
// Every test gets a fresh, empty store from `open` and passes explicit `now` values, never the clock.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serializeEnvelope } from '../../src/domain/envelope.ts';
import { newEventId } from '../../src/domain/ids.ts';
import {
  DEFAULT_RETRY_POLICY,
  type DeliveryDetail,
  type DeliveryView,
  type NewDelivery,
  type NewEvent,
  type Subscriber,
  type SubscriberInput,
  type Tenant,
} from '../../src/domain/types.ts';
import type { AttemptOutcome, AttemptResult, ClaimedDelivery, ClaimRequest, Store } from '../../src/store/port.ts';
import { subscriberInput } from '../helpers/store.ts';

export type OpenStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

/** An instant well inside the range every adapter stores (2027-01-15T08:00:00.000Z). */
const T0 = 1_800_000_000_000;
const SECOND = 1000;
const HOUR = 3_600_000;
const LEASE_MS = 30_000;

const TENANT: Tenant = { organizationId: 'org_acme', extensionId: 'ext_orders' };
/** Same organization, another extension: a different tenant. */
const OTHER_EXTENSION: Tenant = { organizationId: 'org_acme', extensionId: 'ext_billing' };
/** Another organization, same extension id: a different tenant. */
const OTHER_ORGANIZATION: Tenant = { organizationId: 'org_globex', extensionId: 'ext_orders' };

const iso = (ms: number) => new Date(ms).toISOString();
/** A claimed delivery's body (UTF-8 bytes) as text. */
const text = (body: Uint8Array) => new TextDecoder().decode(body);


interface EventSpec {
  companyId?: number;
  slug?: string;
  applicationId?: string | null;
  idempotencyKey?: string | null;
  createdAt?: number;
  /** Subscribers that get a PENDING delivery. */
  pending?: number[];
  /** Subscribers that get a RESYNC delivery (inactive at publish time). */
  resync?: number[];
  /** Further deliveries as the router builds them: reduced bodies, FILTER_ERROR. */
  deliveries?: NewDelivery[];
  payload?: Record<string, unknown>;
  id?: string;
}

/** A routed NewEvent as the router builds it: an envelope body (JSON text) and its deliveries. */
function newEvent(spec: EventSpec = {}): NewEvent {
  const createdAt = spec.createdAt ?? T0;
  const id = spec.id ?? newEventId(createdAt);
  const companyId = spec.companyId ?? 1;
  const applicationId = spec.applicationId === undefined ? 'app_storefront' : spec.applicationId;
  const slug = spec.slug ?? 'company/product/create/v1';
  const payload = spec.payload ?? { brand: { uid: 238, name: 'Acme' }, items: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }] };
  const deliveries: NewDelivery[] = [
    ...(spec.pending ?? []).map((subscriberId) => ({ subscriberId, status: 'PENDING' as const })),
    ...(spec.resync ?? []).map((subscriberId) => ({ subscriberId, status: 'RESYNC' as const })),
    ...(spec.deliveries ?? []),
  ];
  return {
    id,
    companyId,
    applicationId,
    slug,
    idempotencyKey: spec.idempotencyKey ?? null,
    body: serializeEnvelope({ eventId: id, slug, createdAt, traceId: ['trace-1'], companyId, applicationId, payload }),
    createdAt,
    deliveries,
  };
}

function claimFor(subscriberId: number, limit = 10, leaseMs = LEASE_MS): ClaimRequest {
  return { subscriberId, limit, leaseMs };
}

/** The result the dispatcher would record for one claimed delivery. */
function attemptResult(
  claimed: ClaimedDelivery,
  attemptedAt: number,
  outcome: AttemptOutcome,
  overrides: Partial<AttemptResult> = {},
): AttemptResult {
  const ok = outcome.kind === 'success';
  return {
    deliveryId: claimed.id,
    subscriberId: claimed.subscriberId,
    attempt: claimed.attemptCount + 1,
    attemptedAt,
    runStartedAt: claimed.runStartedAt ?? attemptedAt,
    durationMs: 137.25,
    responseCode: ok ? 200 : 503,
    responseBody: ok ? '{"received":true}' : 'service unavailable',
    error: ok ? null : 'HTTP 503',
    ...overrides,
    outcome,
  };
}

const ids = (items: { id: number }[]) => items.map((i) => i.id).sort((a, b) => a - b);

export function storeContract(name: string, open: OpenStore): void {
  describe(name, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    const create = (overrides: Partial<SubscriberInput> = {}, tenant: Tenant = TENANT, now = T0) =>
      store.createSubscriber(tenant, subscriberInput(overrides), now);

    async function publishOne(spec: EventSpec, tenant: Tenant = TENANT, now?: number) {
      const event = newEvent(spec);
      const [result] = await store.publish(tenant, [event], now ?? event.createdAt);
      return { event, result: result! };
    }

    /** The delivery of `eventId` to `subscriberId`, read through getEvent. */
    async function deliveryOf(eventId: string, subscriberId: number, tenant: Tenant = TENANT): Promise<DeliveryView> {
      const event = await store.getEvent(tenant, eventId);
      const delivery = event?.deliveries.find((d) => d.subscriber_id === subscriberId);
      if (!delivery) throw new Error(`no delivery of ${eventId} to subscriber ${subscriberId}`);
      return delivery;
    }

    async function detail(id: number, tenant: Tenant = TENANT): Promise<DeliveryDetail> {
      const d = await store.getDelivery(tenant, id);
      if (!d) throw new Error(`delivery ${id} not found`);
      return d;
    }

    async function claimOne(subscriberId: number, owner: string, now: number, leaseMs = LEASE_MS) {
      const { deliveries } = await store.claim([claimFor(subscriberId, 1, leaseMs)], owner, now);
      expect(deliveries).toHaveLength(1);
      return deliveries[0]!;
    }

    async function statusesOf(subscriberId: number): Promise<string[]> {
      const page = await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 100, subscriberId });
      return page.items.map((d) => d.status);
    }

    /** Counts onSubscribersChanged notifications from now on. */
    function listen(): { calls: number } {
      const counter = { calls: 0 };
      store.onSubscribersChanged(() => counter.calls++);
      return counter;
    }

    /** Claims the one due delivery of `subscriberId` at `at` and records `outcome` for it; returns its id. */
    async function settle(subscriberId: number, at: number, outcome: AttemptOutcome): Promise<number> {
      const claimed = await claimOne(subscriberId, 'node-s', at);
      await store.recordAttempts([attemptResult(claimed, at, outcome)], 'node-s');
      return claimed.id;
    }

    describe('store', () => {
      it('answers ping, and migrate can run again on a migrated store', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
        await store.migrate();
        const s = await create();
        expect(await store.getSubscriber(TENANT, s.id)).not.toBeNull();
      });
    });

    describe('subscribers', () => {
      it('creates a subscriber with an id, created_on and its event subscriptions', async () => {
        const input = subscriberInput();
        const s = await store.createSubscriber(TENANT, input, T0);
        expect(Number.isInteger(s.id) && s.id > 0).toBe(true);
        expect(s).toEqual({
          ...input,
          id: s.id,
          organization_id: TENANT.organizationId,
          extension_id: TENANT.extensionId,
          created_on: iso(T0),
          updated_on: iso(T0),
          last_success_on: null,
          last_failure_on: null,
        });
        expect(s.events).toEqual(input.events);
        expect(await store.getSubscriber(TENANT, s.id)).toEqual(s);
      });

      it('gives subscribers ids that are unique across tenants', async () => {
        const a = await create({}, TENANT);
        const b = await create({}, OTHER_EXTENSION);
        const c = await create({}, OTHER_ORGANIZATION);
        expect(new Set([a.id, b.id, c.id]).size).toBe(3);
      });

      it('scopes get and list to the tenant', async () => {
        const s = await create();
        for (const other of [OTHER_EXTENSION, OTHER_ORGANIZATION]) {
          expect(await store.getSubscriber(other, s.id)).toBeNull();
          const page = await store.listSubscribers(other, { pageNo: 1, pageSize: 20 });
          expect(page.items).toEqual([]);
          expect(page.page.item_total).toBe(0);
          expect(await store.routableSubscribers(other, 1)).toEqual([]);
        }
        expect(await store.getSubscriber(TENANT, s.id + 1000)).toBeNull();
      });

      it('pages the list with page_no/page_size, item_total and has_next', async () => {
        const created: Subscriber[] = [];
        for (let i = 0; i < 5; i++) created.push(await create({}, TENANT, T0 + i));
        await create({}, OTHER_EXTENSION);

        const p1 = await store.listSubscribers(TENANT, { pageNo: 1, pageSize: 2 });
        expect(p1.page).toEqual({ current: 1, size: 2, item_total: 5, has_next: true, type: 'number' });
        expect(p1.items).toHaveLength(2);
        const p2 = await store.listSubscribers(TENANT, { pageNo: 2, pageSize: 2 });
        expect(p2.page).toEqual({ current: 2, size: 2, item_total: 5, has_next: true, type: 'number' });
        const p3 = await store.listSubscribers(TENANT, { pageNo: 3, pageSize: 2 });
        expect(p3.page).toEqual({ current: 3, size: 2, item_total: 5, has_next: false, type: 'number' });
        expect(p3.items).toHaveLength(1);
        const p4 = await store.listSubscribers(TENANT, { pageNo: 4, pageSize: 2 });
        expect(p4.items).toEqual([]);
        expect(p4.page.has_next).toBe(false);

        const seen = [...p1.items, ...p2.items, ...p3.items];
        expect(ids(seen)).toEqual(ids(created));
        // Items are whole subscribers, subscriptions included.
        expect(seen.find((s) => s.id === created[0]!.id)).toEqual(created[0]);
      });

      it('filters the list by company_id and status', async () => {
        const a = await create({ association: { company_id: 7, application_id: [], criteria: 'ALL' } });
        const b = await create({ association: { company_id: 7, application_id: [], criteria: 'EMPTY' }, status: 'inactive' });
        const c = await create({ association: { company_id: 8, application_id: [], criteria: 'ALL' } });

        const company7 = await store.listSubscribers(TENANT, { pageNo: 1, pageSize: 20, companyId: 7 });
        expect(ids(company7.items)).toEqual(ids([a, b]));
        expect(company7.page.item_total).toBe(2);

        const inactive = await store.listSubscribers(TENANT, { pageNo: 1, pageSize: 20, status: 'inactive' });
        expect(ids(inactive.items)).toEqual([b.id]);
        expect(inactive.page.item_total).toBe(1);

        const active7 = await store.listSubscribers(TENANT, { pageNo: 1, pageSize: 20, companyId: 7, status: 'active' });
        expect(ids(active7.items)).toEqual([a.id]);

        const company8 = await store.listSubscribers(TENANT, { pageNo: 1, pageSize: 20, companyId: 8 });
        expect(ids(company8.items)).toEqual([c.id]);
      });

      it('replaces fields and subscriptions, keeping id and created_on', async () => {
        const s = await create();
        const next = subscriberInput({
          name: 'renamed',
          webhook_url: 'https://hooks.example.com/new',
          association: { company_id: 9, application_id: ['app_pos'], criteria: 'SPECIFIC-EVENTS' },
          events: [{ slug: 'application/order/placed/v1', filters: null, reducer: { id: '$.order.id' } }],
          custom_headers: {},
          auth_meta: { type: 'hmac', secret: 'whsec_rotated' },
          email_id: null,
          retry_policy: { max_attempts: 3, max_age_seconds: 600, initial_backoff_ms: 1000, max_backoff_ms: 60_000 },
          timeout_ms: 2500,
          max_in_flight: 4,
        });
        const replaced = await store.replaceSubscriber(TENANT, s.id, next, T0 + HOUR);
        expect(replaced).toEqual({
          ...next,
          id: s.id,
          organization_id: TENANT.organizationId,
          extension_id: TENANT.extensionId,
          created_on: iso(T0),
          updated_on: iso(T0 + HOUR),
          last_success_on: null,
          last_failure_on: null,
        });
        expect(await store.getSubscriber(TENANT, s.id)).toEqual(replaced);
        expect((await store.listSubscribers(TENANT, { pageNo: 1, pageSize: 20, companyId: 9 })).items).toEqual([replaced]);
        expect((await store.listSubscribers(TENANT, { pageNo: 1, pageSize: 20, companyId: 1 })).items).toEqual([]);
        expect(ids(await store.routableSubscribers(TENANT, 9))).toEqual([s.id]);
        expect(await store.routableSubscribers(TENANT, 1)).toEqual([]);
      });

      it("does not replace another tenant's or an unknown subscriber", async () => {
        const s = await create();
        for (const other of [OTHER_EXTENSION, OTHER_ORGANIZATION]) {
          expect(await store.replaceSubscriber(other, s.id, subscriberInput({ name: 'hijacked' }), T0 + 1)).toBeNull();
        }
        expect(await store.replaceSubscriber(TENANT, s.id + 1000, subscriberInput(), T0 + 1)).toBeNull();
        expect(await store.getSubscriber(TENANT, s.id)).toEqual(s);
      });

      it("sets a subscriber's status, and refuses another tenant's or an unknown one", async () => {
        const s = await create();
        expect(await store.setSubscriberStatus(OTHER_EXTENSION, s.id, 'inactive', T0 + 1)).toBe(false);
        expect(await store.setSubscriberStatus(OTHER_ORGANIZATION, s.id, 'inactive', T0 + 1)).toBe(false);
        expect(await store.setSubscriberStatus(TENANT, s.id + 1000, 'inactive', T0 + 1)).toBe(false);
        expect((await store.getSubscriber(TENANT, s.id))!.status).toBe('active');

        expect(await store.setSubscriberStatus(TENANT, s.id, 'inactive', T0 + SECOND)).toBe(true);
        const read = await store.getSubscriber(TENANT, s.id);
        expect(read).toMatchObject({ status: 'inactive', updated_on: iso(T0 + SECOND), created_on: iso(T0) });
        expect(read!.events).toEqual(s.events);
      });

      it('lists routable subscribers of one company, inactive ones included', async () => {
        const a = await create();
        const b = await create({ status: 'inactive' });
        await create({ association: { company_id: 2, application_id: [], criteria: 'ALL' } });
        await create({}, OTHER_EXTENSION);
        const routable = await store.routableSubscribers(TENANT, 1);
        expect(ids(routable)).toEqual(ids([a, b]));
        expect(routable.find((s) => s.id === a.id)).toEqual(a);
      });

      it('hides a deleted subscriber from get, list and routing, but the dispatcher still sees it as deleted', async () => {
        const s = await create();
        const kept = await create();
        expect(await store.deleteSubscriber(OTHER_EXTENSION, s.id, T0 + 1)).toBe(false);
        expect(await store.deleteSubscriber(OTHER_ORGANIZATION, s.id, T0 + 1)).toBe(false);
        expect(await store.getSubscriber(TENANT, s.id)).not.toBeNull();

        expect(await store.deleteSubscriber(TENANT, s.id, T0 + SECOND)).toBe(true);
        expect(await store.getSubscriber(TENANT, s.id)).toBeNull();
        const page = await store.listSubscribers(TENANT, { pageNo: 1, pageSize: 20 });
        expect(ids(page.items)).toEqual([kept.id]);
        expect(page.page.item_total).toBe(1);
        expect(ids(await store.routableSubscribers(TENANT, 1))).toEqual([kept.id]);

        const forDispatch = await store.getSubscriberForDispatch(s.id);
        expect(forDispatch).toMatchObject({ id: s.id, deleted: true, webhook_url: s.webhook_url, auth_meta: s.auth_meta });
        expect(forDispatch!.events).toEqual(s.events);
        expect(await store.getSubscriberForDispatch(kept.id)).toEqual({ ...kept, deleted: false, previousSecret: null, previousSecretUntil: null });
        expect(await store.getSubscriberForDispatch(s.id + 1000)).toBeNull();

        // Gone for good: a second delete, a status change or a replace find nothing.
        expect(await store.deleteSubscriber(TENANT, s.id, T0 + 2 * SECOND)).toBe(false);
        expect(await store.setSubscriberStatus(TENANT, s.id, 'inactive', T0 + 2 * SECOND)).toBe(false);
        expect(await store.replaceSubscriber(TENANT, s.id, subscriberInput(), T0 + 2 * SECOND)).toBeNull();
      });

      it('saves the filter and reducer of one subscription, leaving the rest unchanged', async () => {
        const s = await create();
        const filter = { logic: 'AND', conditions: [{ query: '$.status', condition: "(s) => s === 'placed'" }] };
        const saved = await store.saveSubscriptionRules(TENANT, s.id, 'application/order/*/v1', { filters: filter }, T0 + SECOND);
        expect(saved).toEqual({ slug: 'application/order/*/v1', filters: filter, reducer: null });
        let read = await store.getSubscriber(TENANT, s.id);
        expect(read!.events).toEqual([s.events[0], { slug: 'application/order/*/v1', filters: filter, reducer: null }]);
        expect(read!.updated_on).toBe(iso(T0 + SECOND));

        // undefined leaves a rule as it is, null removes it.
        const reducer = { id: '$.order.id', lines: ['$.items[*].sku'] };
        const reshaped = await store.saveSubscriptionRules(TENANT, s.id, 'company/product/create/v1', { reducer }, T0 + 2 * SECOND);
        expect(reshaped).toEqual({ slug: 'company/product/create/v1', filters: s.events[0]!.filters, reducer });
        const cleared = await store.saveSubscriptionRules(TENANT, s.id, 'company/product/create/v1', { filters: null }, T0 + 3 * SECOND);
        expect(cleared).toEqual({ slug: 'company/product/create/v1', filters: null, reducer });
        read = await store.getSubscriber(TENANT, s.id);
        expect(read!.events).toEqual([
          { slug: 'company/product/create/v1', filters: null, reducer },
          { slug: 'application/order/*/v1', filters: filter, reducer: null },
        ]);
        expect((await store.routableSubscribers(TENANT, 1))[0]!.events).toEqual(read!.events);
      });

      it("refuses rules for an unknown slug, another tenant's subscriber or a deleted one", async () => {
        const s = await create();
        const changes = { filters: { query: '$.a', condition: '(a) => a' } };
        // The slug is the subscription's own pattern, not an event slug it matches.
        expect(await store.saveSubscriptionRules(TENANT, s.id, 'application/order/placed/v1', changes, T0 + 1)).toBeNull();
        expect(await store.saveSubscriptionRules(OTHER_EXTENSION, s.id, 'application/order/*/v1', changes, T0 + 1)).toBeNull();
        expect(await store.saveSubscriptionRules(OTHER_ORGANIZATION, s.id, 'application/order/*/v1', changes, T0 + 1)).toBeNull();
        expect(await store.saveSubscriptionRules(TENANT, s.id + 1000, 'application/order/*/v1', changes, T0 + 1)).toBeNull();
        expect(await store.getSubscriber(TENANT, s.id)).toEqual(s);
        await store.deleteSubscriber(TENANT, s.id, T0 + 2);
        expect(await store.saveSubscriptionRules(TENANT, s.id, 'application/order/*/v1', changes, T0 + 3)).toBeNull();
      });

      it('notifies onSubscribersChanged listeners on create, replace, status change, rules and delete', async () => {
        let first = 0;
        let second = 0;
        store.onSubscribersChanged(() => first++);
        store.onSubscribersChanged(() => second++);
        const s = await create();
        expect(first).toBe(1);
        await store.replaceSubscriber(TENANT, s.id, subscriberInput({ name: 'renamed' }), T0 + 1);
        expect(first).toBe(2);
        await store.setSubscriberStatus(TENANT, s.id, 'inactive', T0 + 2);
        expect(first).toBe(3);
        await store.setSubscriberStatus(TENANT, s.id, 'active', T0 + 3);
        expect(first).toBe(4);
        await store.saveSubscriptionRules(TENANT, s.id, 'application/order/*/v1', { reducer: { id: '$.id' } }, T0 + 4);
        expect(first).toBe(5);
        await store.deleteSubscriber(TENANT, s.id, T0 + 5);
        expect(first).toBe(6);
        expect(second).toBe(6);
      });
    });

    describe('publish', () => {
      it('makes an event with PENDING and RESYNC deliveries readable with getEvent, scoped to the tenant', async () => {
        const a = await create();
        const b = await create();
        const c = await create({ status: 'inactive' });
        const { event, result } = await publishOne({ pending: [a.id, b.id], resync: [c.id], applicationId: 'app_storefront' });
        expect(result).toEqual({ event_id: event.id, deliveries: 3, duplicate: false });

        const view = await store.getEvent(TENANT, event.id);
        expect(view).toMatchObject({
          id: event.id,
          event_slug: 'company/product/create/v1',
          company_id: 1,
          application_id: 'app_storefront',
          created_on: iso(T0),
        });
        expect(view!.body).toEqual(JSON.parse(event.body));
        expect(view!.deliveries).toHaveLength(3);
        const bySubscriber = new Map(view!.deliveries.map((d) => [d.subscriber_id, d]));
        for (const id of [a.id, b.id]) {
          expect(bySubscriber.get(id)).toEqual({
            id: expect.any(Number),
            event_id: event.id,
            event_slug: event.slug,
            subscriber_id: id,
            company_id: 1,
            status: 'PENDING',
            attempt: 0,
            response_code: null,
            response_time: null,
            last_attempted_on: null,
            next_attempt_on: iso(T0),
            created_on: iso(T0),
          });
        }
        expect(bySubscriber.get(c.id)).toMatchObject({ status: 'RESYNC', attempt: 0, next_attempt_on: null });
        expect(new Set(view!.deliveries.map((d) => d.id)).size).toBe(3);

        expect(await store.getEvent(OTHER_EXTENSION, event.id)).toBeNull();
        expect(await store.getEvent(OTHER_ORGANIZATION, event.id)).toBeNull();
        expect(await store.getEvent(TENANT, newEventId(T0))).toBeNull();
      });

      it('keeps an event that reached no subscriber, and a company-level event without application_id', async () => {
        const { event, result } = await publishOne({ applicationId: null });
        expect(result).toEqual({ event_id: event.id, deliveries: 0, duplicate: false });
        const view = await store.getEvent(TENANT, event.id);
        expect(view).toMatchObject({ id: event.id, application_id: null, deliveries: [] });
      });

      it('stores FILTER_ERROR deliveries with their reason, without counting, queueing or claiming them', async () => {
        const a = await create();
        const b = await create();
        const reason = 'filter failed: condition threw TypeError: Cannot read properties of undefined';
        const { event, result } = await publishOne({
          idempotencyKey: 'order-43',
          pending: [a.id],
          deliveries: [{ subscriberId: b.id, status: 'FILTER_ERROR', error: reason }],
        });
        expect(result).toEqual({ event_id: event.id, deliveries: 1, duplicate: false });
        const failed = await deliveryOf(event.id, b.id);
        expect(failed).toMatchObject({ status: 'FILTER_ERROR', attempt: 0, next_attempt_on: null, last_attempted_on: null });
        expect(await detail(failed.id)).toMatchObject({ status: 'FILTER_ERROR', error: reason, attempts: [] });
        expect((await store.getEvent(TENANT, event.id))!.deliveries).toHaveLength(2);

        expect(await store.queueDepth()).toBe(1);
        expect((await store.claim([claimFor(b.id)], 'node-1', T0 + HOUR)).deliveries).toEqual([]);
        expect((await store.dueSubscribers()).map((d) => d.subscriberId)).toEqual([a.id]);
        // The duplicate's count is the deliveries that will be sent.
        expect((await publishOne({ idempotencyKey: 'order-43', createdAt: T0 + 1 })).result).toEqual({ event_id: event.id, deliveries: 1, duplicate: true });

        // Status changes and deletion of the subscriber leave the record as it is.
        await store.setSubscriberStatus(TENANT, b.id, 'inactive', T0 + 2);
        await store.setSubscriberStatus(TENANT, b.id, 'active', T0 + 3);
        expect((await detail(failed.id)).status).toBe('FILTER_ERROR');
        expect((await store.claim([claimFor(b.id)], 'node-1', T0 + HOUR)).deliveries).toEqual([]);
        await store.deleteSubscriber(TENANT, b.id, T0 + 4);
        expect(await detail(failed.id)).toMatchObject({ status: 'FILTER_ERROR', error: reason });
        const list = await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 20, status: 'FILTER_ERROR' });
        expect(list.items.map((d) => d.id)).toEqual([failed.id]);
      });

      it("hands out a delivery's own (reduced) body instead of the event body, on every attempt", async () => {
        const plain = await create();
        const reducing = await create();
        const eventId = newEventId(T0);
        const reduced = JSON.stringify({
          event: { id: eventId, name: 'product', type: 'create', category: 'company', version: '1', created_timestamp: T0, trace_id: [] },
          company_id: 1,
          contains: ['brand_name', 'skus', 'source'],
          payload: { brand_name: 'Acme', skus: ['SKU-1', 'SKU-2'], source: 'fynd' },
        });
        const { event } = await publishOne({
          id: eventId,
          pending: [plain.id],
          deliveries: [{ subscriberId: reducing.id, status: 'PENDING', body: reduced }],
        });
        const { deliveries } = await store.claim([claimFor(plain.id), claimFor(reducing.id)], 'node-1', T0);
        expect(text(deliveries.find((d) => d.subscriberId === plain.id)!.body)).toBe(event.body);
        const mine = deliveries.find((d) => d.subscriberId === reducing.id)!;
        expect(text(mine.body)).toBe(reduced);

        await store.recordAttempts([attemptResult(mine, T0 + 1, { kind: 'retry', nextAttemptAt: T0 + 2 * SECOND })], 'node-1');
        expect(text((await claimOne(reducing.id, 'node-1', T0 + 2 * SECOND)).body)).toBe(reduced);
        // A lease that ran out, and a manual retry, hand out the same body too.
        expect(text((await claimOne(reducing.id, 'node-2', T0 + 2 * SECOND + LEASE_MS)).body)).toBe(reduced);
        expect(await store.retryDelivery(TENANT, mine.id, T0 + HOUR)).toBe('queued');
        expect(text((await claimOne(reducing.id, 'node-3', T0 + HOUR)).body)).toBe(reduced);
        // The event itself keeps the envelope as published.
        expect((await store.getEvent(TENANT, event.id))!.body).toEqual(JSON.parse(event.body));
      });

      it("hands each delivery its own event's body when a claim mixes events read before with new ones", async () => {
        const first = await create();
        const second = await create();
        const events = [1, 2, 3].map((n) => newEvent({ pending: [first.id, second.id], payload: { n } }));
        await store.publish(TENANT, events, T0);
        const bodyOf = new Map(events.map((e) => [e.id, e.body]));
        // The first subscriber's claim reads events 1 and 2; the second's then needs those and event 3.
        const early = await store.claim([claimFor(first.id, 2)], 'node-1', T0);
        const late = await store.claim([claimFor(second.id, 3), claimFor(first.id, 1)], 'node-1', T0);
        const claimed = [...early.deliveries, ...late.deliveries];
        expect(claimed).toHaveLength(6);
        for (const d of claimed) expect(text(d.body)).toBe(bodyOf.get(d.eventId));
        // One Uint8Array per event, shared by its deliveries (signed and sent as they are).
        expect(new Set(claimed.map((d) => d.body)).size).toBe(3);
      });

      it('publishes a batch in order, one result per event', async () => {
        const a = await create();
        const events = [
          newEvent({ pending: [a.id], createdAt: T0 }),
          newEvent({ slug: 'application/order/placed/v1', pending: [], createdAt: T0 }),
          newEvent({ pending: [a.id], createdAt: T0 }),
        ];
        const results = await store.publish(TENANT, events, T0);
        expect(results).toEqual([
          { event_id: events[0]!.id, deliveries: 1, duplicate: false },
          { event_id: events[1]!.id, deliveries: 0, duplicate: false },
          { event_id: events[2]!.id, deliveries: 1, duplicate: false },
        ]);
        for (const e of events) expect(await store.getEvent(TENANT, e.id)).not.toBeNull();
      });

      it("tells this process's onWork listeners, once per publish, whose PENDING deliveries it wrote", async () => {
        const [a, b, parked, filtered] = [await create(), await create(), await create(), await create()];
        const told: (number[] | 'all')[] = [];
        store.onWork((ids) => told.push(ids === 'all' ? ids : [...ids].sort((x, y) => x - y)));
        await publishOne({
          idempotencyKey: 'order-7',
          pending: [b.id, a.id],
          resync: [parked.id],
          deliveries: [{ subscriberId: filtered.id, status: 'FILTER_ERROR', error: 'filter failed: boom' }],
        });
        expect(told).toEqual([[a.id, b.id].sort((x, y) => x - y)]);
        // A duplicate wrote nothing, and an event without deliveries has nobody to wake.
        await publishOne({ idempotencyKey: 'order-7', pending: [a.id], createdAt: T0 + 1 });
        await publishOne({});
        expect(told).toHaveLength(1);
      });

      it('answers a repeated idempotency key with the first event id and its delivery count', async () => {
        const a = await create();
        const b = await create();
        const first = await publishOne({ idempotencyKey: 'order-42', pending: [a.id, b.id] });
        expect(first.result.duplicate).toBe(false);

        const again = await publishOne({ idempotencyKey: 'order-42', pending: [a.id], createdAt: T0 + HOUR });
        expect(again.result).toEqual({ event_id: first.event.id, deliveries: 2, duplicate: true });
        expect(await store.getEvent(TENANT, again.event.id)).toBeNull();
        const all = await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 20 });
        expect(all.page.item_total).toBe(2);
      });

      it('scopes idempotency keys to the company and the tenant', async () => {
        const first = await publishOne({ idempotencyKey: 'order-42', companyId: 1 });
        const otherCompany = await publishOne({ idempotencyKey: 'order-42', companyId: 2 });
        const otherExtension = await publishOne({ idempotencyKey: 'order-42', companyId: 1 }, OTHER_EXTENSION);
        const otherOrganization = await publishOne({ idempotencyKey: 'order-42', companyId: 1 }, OTHER_ORGANIZATION);
        for (const p of [otherCompany, otherExtension, otherOrganization]) {
          expect(p.result).toEqual({ event_id: p.event.id, deliveries: 0, duplicate: false });
          expect(p.event.id).not.toBe(first.event.id);
        }
        // Each of them now owns the key in its own scope.
        const repeat = await publishOne({ idempotencyKey: 'order-42', companyId: 2 }, TENANT, T0 + 1);
        expect(repeat.result).toEqual({ event_id: otherCompany.event.id, deliveries: 0, duplicate: true });
      });

      it('forgets an idempotency key after 24 hours', async () => {
        const a = await create();
        const first = await publishOne({ idempotencyKey: 'order-42', pending: [a.id] });
        const within = await publishOne({ idempotencyKey: 'order-42', createdAt: T0 + 23 * HOUR });
        expect(within.result).toEqual({ event_id: first.event.id, deliveries: 1, duplicate: true });

        const later = await publishOne({ idempotencyKey: 'order-42', pending: [a.id], createdAt: T0 + 25 * HOUR });
        expect(later.result).toEqual({ event_id: later.event.id, deliveries: 1, duplicate: false });
        expect(await store.getEvent(TENANT, later.event.id)).not.toBeNull();

        // The key now names the new event, for the next 24 hours.
        const repeat = await publishOne({ idempotencyKey: 'order-42', createdAt: T0 + 26 * HOUR });
        expect(repeat.result).toEqual({ event_id: later.event.id, deliveries: 1, duplicate: true });
      });

      it('never treats events without an idempotency key as duplicates', async () => {
        const one = await publishOne({});
        const two = await publishOne({});
        expect(one.result.duplicate).toBe(false);
        expect(two.result.duplicate).toBe(false);
        expect(two.result.event_id).not.toBe(one.result.event_id);
      });

      it("treats a key repeated within one batch as a duplicate of the batch's first event", async () => {
        const a = await create();
        const events = [
          newEvent({ idempotencyKey: 'sku-7', pending: [a.id] }),
          newEvent({ idempotencyKey: 'sku-7', pending: [a.id] }),
          newEvent({ pending: [a.id] }),
        ];
        const results = await store.publish(TENANT, events, T0);
        expect(results).toEqual([
          { event_id: events[0]!.id, deliveries: 1, duplicate: false },
          { event_id: events[0]!.id, deliveries: 1, duplicate: true },
          { event_id: events[2]!.id, deliveries: 1, duplicate: false },
        ]);
        expect(await store.getEvent(TENANT, events[1]!.id)).toBeNull();
        expect((await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 20 })).page.item_total).toBe(2);
      });

      it('publishes a batch all or nothing', async () => {
        const a = await create();
        const first = newEvent({ idempotencyKey: 'batch-key', pending: [a.id] });
        // The second event reuses the first one's id: the batch cannot be stored, so none of it is.
        const clash = newEvent({ id: first.id, pending: [a.id] });
        await expect(store.publish(TENANT, [first, clash], T0)).rejects.toThrow();

        expect(await store.getEvent(TENANT, first.id)).toBeNull();
        expect((await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 20 })).page.item_total).toBe(0);
        expect(await store.queueDepth()).toBe(0);
        // The idempotency key of the failed batch was not kept either.
        const retried = await store.publish(TENANT, [first], T0 + 1);
        expect(retried).toEqual([{ event_id: first.id, deliveries: 1, duplicate: false }]);
      });
    });

    describe('claim', () => {
      it('leases due PENDING deliveries of the requested subscriber only, up to the limit, with the event body', async () => {
        const a = await create();
        const b = await create();
        const events = [];
        for (let i = 0; i < 3; i++) events.push((await publishOne({ pending: [a.id, b.id], createdAt: T0 + i })).event);

        const { deliveries } = await store.claim([claimFor(a.id, 2)], 'node-1', T0 + 10);
        expect(deliveries).toHaveLength(2);
        // The earliest due come first.
        expect(deliveries.map((d) => d.eventId).sort()).toEqual([events[0]!.id, events[1]!.id].sort());
        for (const d of deliveries) {
          const event = events.find((e) => e.id === d.eventId)!;
          expect({ ...d, body: text(d.body) }).toEqual({
            id: (await deliveryOf(event.id, a.id)).id,
            eventId: event.id,
            subscriberId: a.id,
            attemptCount: 0,
            runAttempts: 0,
            runStartedAt: null,
            body: event.body,
          });
        }
        // B's deliveries were not touched: all three are still claimable.
        const forB = await store.claim([claimFor(b.id, 10)], 'node-1', T0 + 10);
        expect(forB.deliveries).toHaveLength(3);
        expect(forB.deliveries.every((d) => d.subscriberId === b.id)).toBe(true);
      });

      it('claims for several subscribers in one call', async () => {
        const a = await create();
        const b = await create();
        const c = await create();
        await publishOne({ pending: [a.id, b.id] });
        await publishOne({ pending: [a.id, b.id, c.id] });
        const { deliveries, nextDue } = await store.claim([claimFor(a.id, 1), claimFor(b.id, 5)], 'node-1', T0);
        expect(deliveries.filter((d) => d.subscriberId === a.id)).toHaveLength(1);
        expect(deliveries.filter((d) => d.subscriberId === b.id)).toHaveLength(2);
        expect(deliveries.filter((d) => d.subscriberId === c.id)).toHaveLength(0);
        expect([...nextDue.keys()].sort((x, y) => x - y)).toEqual([a.id, b.id]);
      });

      it('does not hand out a leased delivery again until the lease expires (crash recovery)', async () => {
        const a = await create();
        const { event } = await publishOne({ pending: [a.id] });
        const first = await claimOne(a.id, 'node-1', T0);
        expect(first.eventId).toBe(event.id);

        expect((await store.claim([claimFor(a.id)], 'node-1', T0)).deliveries).toEqual([]);
        expect((await store.claim([claimFor(a.id)], 'node-2', T0)).deliveries).toEqual([]);
        expect((await store.claim([claimFor(a.id)], 'node-2', T0 + LEASE_MS - 1)).deliveries).toEqual([]);

        // node-1 died without recording anything: once its lease is over, another node takes the delivery.
        const again = await claimOne(a.id, 'node-2', T0 + LEASE_MS + 1);
        expect(again).toEqual({ ...first });
        expect((await detail(first.id)).status).toBe('PENDING');
      });

      it('never claims RESYNC deliveries', async () => {
        const a = await create();
        await publishOne({ resync: [a.id] });
        const { deliveries, nextDue } = await store.claim([claimFor(a.id)], 'node-1', T0 + 100 * HOUR);
        expect(deliveries).toEqual([]);
        expect(nextDue.get(a.id)).toBeNull();
        expect(await store.queueDepth()).toBe(0);
        expect(await store.dueSubscribers()).toEqual([]);
      });

      it("reports when each asked subscriber's earliest queued delivery falls due, or null", async () => {
        const a = await create();
        const idle = await create();
        await publishOne({ pending: [a.id], createdAt: T0 });
        await publishOne({ pending: [a.id], createdAt: T0 + 1 });

        const one = await store.claim([claimFor(a.id, 1), claimFor(idle.id)], 'node-1', T0 + 10);
        expect(one.deliveries).toHaveLength(1);
        expect(one.nextDue.get(a.id)).toBe(T0 + 1);
        expect(one.nextDue.has(idle.id)).toBe(true);
        expect(one.nextDue.get(idle.id)).toBeNull();

        // Everything leased: the earliest lease end is when something can fall due again.
        const two = await store.claim([claimFor(a.id, 10, 60_000)], 'node-1', T0 + 20);
        expect(two.deliveries).toHaveLength(1);
        expect(two.nextDue.get(a.id)).toBe(T0 + 10 + LEASE_MS);

        // Both finished: nothing queued.
        await store.recordAttempts(
          [...one.deliveries, ...two.deliveries].map((d) => attemptResult(d, T0 + 30, { kind: 'success' })),
          'node-1',
        );
        const three = await store.claim([claimFor(a.id)], 'node-1', T0 + 40);
        expect(three.deliveries).toEqual([]);
        expect(three.nextDue.get(a.id)).toBeNull();
      });

      it('leaves a delivery not yet due within the limit queued, and reports when it falls due', async () => {
        const a = await create();
        await publishOne({ pending: [a.id], createdAt: T0 });
        await publishOne({ pending: [a.id], createdAt: T0 + 5 });
        const { deliveries, nextDue } = await store.claim([claimFor(a.id, 5)], 'node-1', T0);
        expect(deliveries).toHaveLength(1);
        expect(nextDue.get(a.id)).toBe(T0 + 5);
        expect((await store.claim([claimFor(a.id, 5)], 'node-1', T0 + 5)).deliveries).toHaveLength(1);
      });

      it('lists subscribers with queued deliveries and their earliest due time', async () => {
        const a = await create();
        const b = await create();
        const parked = await create();
        const done = await create();
        await publishOne({ pending: [a.id], createdAt: T0 + 7 });
        await publishOne({ pending: [a.id, b.id], createdAt: T0 + 5 });
        await publishOne({ pending: [b.id], createdAt: T0 + 3 });
        await publishOne({ resync: [parked.id], createdAt: T0 });
        await publishOne({ pending: [done.id], createdAt: T0 });
        const claimed = await claimOne(done.id, 'node-1', T0 + 10);
        await store.recordAttempts([attemptResult(claimed, T0 + 11, { kind: 'success' })], 'node-1');

        const due = (await store.dueSubscribers()).sort((x, y) => x.subscriberId - y.subscriberId);
        expect(due).toEqual([
          { subscriberId: a.id, nextAttemptAt: T0 + 5 },
          { subscriberId: b.id, nextAttemptAt: T0 + 3 },
        ]);
        expect(await store.queueDepth()).toBe(4);
      });

      it('counts PENDING and FAILED deliveries, leased or not, as the queue depth', async () => {
        const a = await create();
        expect(await store.queueDepth()).toBe(0);
        for (let i = 0; i < 3; i++) await publishOne({ pending: [a.id], createdAt: T0 + i });
        await publishOne({ resync: [a.id] });
        expect(await store.queueDepth()).toBe(3);
        const [d1, d2] = (await store.claim([claimFor(a.id, 2)], 'node-1', T0 + 10)).deliveries;
        expect(await store.queueDepth()).toBe(3);
        await store.recordAttempts(
          [
            attemptResult(d1!, T0 + 20, { kind: 'success' }),
            attemptResult(d2!, T0 + 20, { kind: 'retry', nextAttemptAt: T0 + 5000 }),
          ],
          'node-1',
        );
        expect(await store.queueDepth()).toBe(2);
      });
    });

    describe('recordAttempts', () => {
      it('records a success: SUCCESS, attempt 1, response code and time, and the attempt log', async () => {
        const a = await create();
        await publishOne({ pending: [a.id] });
        const claimed = await claimOne(a.id, 'node-1', T0 + 5);
        await store.recordAttempts(
          [attemptResult(claimed, T0 + 10, { kind: 'success' }, { durationMs: 137.25, responseCode: 204, responseBody: '{"received":true}' })],
          'node-1',
        );
        const d = await detail(claimed.id);
        expect(d).toMatchObject({
          status: 'SUCCESS',
          attempt: 1,
          response_code: 204,
          response_time: 137.25,
          last_attempted_on: iso(T0 + 10),
          next_attempt_on: null,
          error: null,
        });
        expect(d.attempts).toEqual([
          { attempt: 1, attempted_on: iso(T0 + 10), response_code: 204, response_time: 137.25, response_body: '{"received":true}', error: null },
        ]);
        expect((await store.claim([claimFor(a.id)], 'node-2', T0 + 10 * LEASE_MS)).deliveries).toEqual([]);
        expect(await store.queueDepth()).toBe(0);
      });

      it('records a failure to retry: FAILED, due at next_attempt_on and not before, run start kept', async () => {
        const a = await create();
        await publishOne({ pending: [a.id] });
        const claimed = await claimOne(a.id, 'node-1', T0);
        const retryAt = T0 + 5 * SECOND;
        await store.recordAttempts(
          [
            attemptResult(claimed, T0 + 100, { kind: 'retry', nextAttemptAt: retryAt }, {
              durationMs: 10_000,
              responseCode: 0,
              responseBody: null,
              error: 'timed out after 10000 ms',
            }),
          ],
          'node-1',
        );
        const d = await detail(claimed.id);
        expect(d).toMatchObject({
          status: 'FAILED',
          attempt: 1,
          response_code: 0,
          response_time: 10_000,
          last_attempted_on: iso(T0 + 100),
          next_attempt_on: iso(retryAt),
          error: 'timed out after 10000 ms',
        });
        expect(d.attempts).toEqual([
          { attempt: 1, attempted_on: iso(T0 + 100), response_code: 0, response_time: 10_000, response_body: null, error: 'timed out after 10000 ms' },
        ]);

        expect((await store.claim([claimFor(a.id)], 'node-1', retryAt - 1)).deliveries).toEqual([]);
        const second = await claimOne(a.id, 'node-1', retryAt);
        expect(second).toMatchObject({ id: claimed.id, attemptCount: 1, runAttempts: 1, runStartedAt: T0 + 100 });

        await store.recordAttempts(
          [attemptResult(second, retryAt + 50, { kind: 'retry', nextAttemptAt: retryAt + 10 * SECOND }, { responseCode: 500, responseBody: 'oops', error: 'HTTP 500' })],
          'node-1',
        );
        const third = await claimOne(a.id, 'node-1', retryAt + 10 * SECOND);
        expect(third).toMatchObject({ attemptCount: 2, runAttempts: 2, runStartedAt: T0 + 100 });
        expect((await detail(claimed.id)).attempts.map((x) => [x.attempt, x.response_code])).toEqual([
          [1, 0],
          [2, 500],
        ]);
      });

      it('records giving up: DISABLED, no next attempt, never claimed again', async () => {
        const a = await create();
        await publishOne({ pending: [a.id] });
        const claimed = await claimOne(a.id, 'node-1', T0);
        await store.recordAttempts(
          [attemptResult(claimed, T0 + 100, { kind: 'give-up' }, { responseCode: 410, responseBody: 'gone', error: 'HTTP 410' })],
          'node-1',
        );
        const d = await detail(claimed.id);
        expect(d).toMatchObject({ status: 'DISABLED', attempt: 1, response_code: 410, next_attempt_on: null, error: 'HTTP 410' });
        expect(d.attempts).toHaveLength(1);
        expect((await store.claim([claimFor(a.id)], 'node-1', T0 + 100 * HOUR)).deliveries).toEqual([]);
        expect(await store.queueDepth()).toBe(0);
      });

      it('records the results of several deliveries in one call', async () => {
        const a = await create();
        const b = await create();
        await publishOne({ pending: [a.id, b.id] });
        const { deliveries } = await store.claim([claimFor(a.id), claimFor(b.id)], 'node-1', T0);
        expect(deliveries).toHaveLength(2);
        const [da, db] = [deliveries.find((d) => d.subscriberId === a.id)!, deliveries.find((d) => d.subscriberId === b.id)!];
        await store.recordAttempts(
          [attemptResult(da, T0 + 1, { kind: 'success' }), attemptResult(db, T0 + 2, { kind: 'give-up' })],
          'node-1',
        );
        expect((await detail(da.id)).status).toBe('SUCCESS');
        expect((await detail(db.id)).status).toBe('DISABLED');
      });

      it('ignores a result from an owner that lost its lease to another', async () => {
        const a = await create();
        await publishOne({ pending: [a.id] });
        const stale = await claimOne(a.id, 'node-1', T0, 1000);
        const fresh = await claimOne(a.id, 'node-2', T0 + 1001, 1000);
        expect(fresh.id).toBe(stale.id);

        await store.recordAttempts([attemptResult(stale, T0 + 1500, { kind: 'success' })], 'node-1');
        let d = await detail(stale.id);
        expect(d).toMatchObject({ status: 'PENDING', attempt: 0, last_attempted_on: null });
        expect(d.attempts).toEqual([]);

        await store.recordAttempts([attemptResult(fresh, T0 + 1600, { kind: 'retry', nextAttemptAt: T0 + 9000 })], 'node-2');
        d = await detail(stale.id);
        expect(d).toMatchObject({ status: 'FAILED', attempt: 1, next_attempt_on: iso(T0 + 9000) });
        expect(d.attempts).toHaveLength(1);

        // A late park from the old owner is ignored too.
        await store.recordAttempts([attemptResult(stale, T0 + 1700, { kind: 'park' })], 'node-1');
        expect((await detail(stale.id)).status).toBe('FAILED');
      });

      it('parks a delivery not attempted because its subscriber stopped being active: RESYNC, no attempt row', async () => {
        const a = await create();
        await publishOne({ pending: [a.id] });
        const claimed = await claimOne(a.id, 'node-1', T0);
        await store.recordAttempts(
          [attemptResult(claimed, T0 + 10, { kind: 'park' }, { durationMs: 0, responseCode: 0, responseBody: null, error: null })],
          'node-1',
        );
        const d = await detail(claimed.id);
        expect(d).toMatchObject({ status: 'RESYNC', attempt: 0, next_attempt_on: null, last_attempted_on: null });
        expect(d.attempts).toEqual([]);
        expect((await store.claim([claimFor(a.id)], 'node-1', T0 + 10 * LEASE_MS)).deliveries).toEqual([]);
        expect(await store.queueDepth()).toBe(0);
      });
    });

    describe('recordAttempts: last success and failure', () => {
      it('shows on the subscriber when a delivery to it last succeeded and last failed', async () => {
        const a = await create();
        await publishOne({ pending: [a.id] });
        await publishOne({ pending: [a.id] });
        await settle(a.id, T0 + 10, { kind: 'retry', nextAttemptAt: T0 + HOUR });
        await settle(a.id, T0 + 20, { kind: 'success' });
        expect(await store.getSubscriber(TENANT, a.id)).toMatchObject({ last_success_on: iso(T0 + 20), last_failure_on: iso(T0 + 10) });
      });
    });

    describe('recordAttempts: blocking', () => {
      const statusOf = async (id: number) => (await store.getSubscriberForDispatch(id))!.status;

      it('blocks a subscriber that gives up with no success since the run began: unleased queue parked, listeners notified', async () => {
        const a = await create();
        const b = await create();
        const e1 = await publishOne({ pending: [a.id, b.id], createdAt: T0 });
        const e2 = await publishOne({ pending: [a.id], createdAt: T0 + 1 });
        const e3 = await publishOne({ pending: [a.id], createdAt: T0 + 2 * SECOND });
        const e4 = await publishOne({ pending: [a.id], createdAt: T0 + 3 * SECOND });
        // e1 and e2 fail; e2's retry is an hour away.
        const first = await store.claim([claimFor(a.id, 2)], 'node-1', T0 + 10);
        const c1 = first.deliveries.find((d) => d.eventId === e1.event.id)!;
        const c2 = first.deliveries.find((d) => d.eventId === e2.event.id)!;
        await store.recordAttempts(
          [
            attemptResult(c1, T0 + 10, { kind: 'retry', nextAttemptAt: T0 + SECOND }),
            attemptResult(c2, T0 + 10, { kind: 'retry', nextAttemptAt: T0 + HOUR }),
          ],
          'node-1',
        );
        const retried = await claimOne(a.id, 'node-1', T0 + SECOND);
        expect(retried).toMatchObject({ id: c1.id, runStartedAt: T0 + 10 });
        // e3 is in flight on another node when e1 gives up.
        const inFlight = await claimOne(a.id, 'node-2', T0 + 2 * SECOND);
        expect(inFlight.eventId).toBe(e3.event.id);

        const changes = listen();
        const summary = await store.recordAttempts([attemptResult(retried, T0 + 3 * SECOND, { kind: 'give-up' })], 'node-1');
        expect(summary).toEqual({ blocked: [a.id] });
        expect(changes.calls).toBe(1);
        expect((await store.getSubscriber(TENANT, a.id))!.status).toBe('blocked');
        expect(await statusOf(a.id)).toBe('blocked');
        expect(ids((await store.listSubscribers(TENANT, { pageNo: 1, pageSize: 20, status: 'blocked' })).items)).toEqual([a.id]);
        expect(await detail(c1.id)).toMatchObject({ status: 'DISABLED', attempt: 2, next_attempt_on: null });
        // Queued and not leased: parked, the FAILED one and the PENDING one alike.
        for (const e of [e2, e4]) expect(await deliveryOf(e.event.id, a.id)).toMatchObject({ status: 'RESYNC', next_attempt_on: null });
        // Leased: left to the node attempting it. Another subscriber's queue is untouched.
        expect((await deliveryOf(e3.event.id, a.id)).status).toBe('PENDING');
        expect(await deliveryOf(e1.event.id, b.id)).toMatchObject({ status: 'PENDING', next_attempt_on: iso(T0) });

        await store.recordAttempts([attemptResult(inFlight, T0 + 3 * SECOND, { kind: 'park' })], 'node-2');
        expect((await deliveryOf(e3.event.id, a.id)).status).toBe('RESYNC');
        expect(await store.queueDepth()).toBe(1);
        expect(await store.dueSubscribers()).toEqual([{ subscriberId: b.id, nextAttemptAt: T0 }]);
        expect((await store.claim([claimFor(a.id)], 'node-1', T0 + 2 * HOUR)).deliveries).toEqual([]);

        // Re-activation unblocks: the parked queue is due again at once; the given-up delivery stays DISABLED.
        expect(await store.setSubscriberStatus(TENANT, a.id, 'active', T0 + 2 * HOUR)).toBe(true);
        for (const e of [e2, e3, e4]) {
          expect(await deliveryOf(e.event.id, a.id)).toMatchObject({ status: 'PENDING', next_attempt_on: iso(T0 + 2 * HOUR) });
        }
        expect((await detail(c1.id)).status).toBe('DISABLED');
      });

      it('does not block when the subscriber had a success since the run began, at its very start included', async () => {
        const a = await create();
        const e1 = await publishOne({ pending: [a.id], createdAt: T0 });
        const e2 = await publishOne({ pending: [a.id], createdAt: T0 + 1 });
        const later = await publishOne({ pending: [a.id], createdAt: T0 + HOUR });
        const c1 = await claimOne(a.id, 'node-1', T0 + 10);
        expect(c1.eventId).toBe(e1.event.id);
        await store.recordAttempts([attemptResult(c1, T0 + 10, { kind: 'retry', nextAttemptAt: T0 + SECOND })], 'node-1');
        // Another delivery succeeds at the instant e1's run began.
        const c2 = await claimOne(a.id, 'node-1', T0 + 10);
        expect(c2.eventId).toBe(e2.event.id);
        await store.recordAttempts([attemptResult(c2, T0 + 10, { kind: 'success' })], 'node-1');

        const again = await claimOne(a.id, 'node-1', T0 + SECOND);
        expect(again).toMatchObject({ id: c1.id, runStartedAt: T0 + 10 });
        const changes = listen();
        expect(await store.recordAttempts([attemptResult(again, T0 + SECOND, { kind: 'give-up' })], 'node-1')).toEqual({ blocked: [] });
        expect(changes.calls).toBe(0);
        expect(await statusOf(a.id)).toBe('active');
        expect((await detail(c1.id)).status).toBe('DISABLED');
        expect(await deliveryOf(later.event.id, a.id)).toMatchObject({ status: 'PENDING', next_attempt_on: iso(T0 + HOUR) });
      });

      it('blocks when the last success came before the run began', async () => {
        const a = await create();
        await publishOne({ pending: [a.id], createdAt: T0 + HOUR - 10 });
        const ok = await claimOne(a.id, 'node-1', T0 + HOUR - 10);
        await store.recordAttempts([attemptResult(ok, T0 + HOUR - 1, { kind: 'success' })], 'node-1');
        const { event } = await publishOne({ pending: [a.id], createdAt: T0 + HOUR });
        const c = await claimOne(a.id, 'node-1', T0 + HOUR);
        expect(c.eventId).toBe(event.id);
        await store.recordAttempts([attemptResult(c, T0 + HOUR, { kind: 'retry', nextAttemptAt: T0 + HOUR + SECOND })], 'node-1');
        const again = await claimOne(a.id, 'node-1', T0 + HOUR + SECOND);
        expect(again.runStartedAt).toBe(T0 + HOUR);
        expect(await store.recordAttempts([attemptResult(again, T0 + HOUR + SECOND, { kind: 'give-up' })], 'node-1')).toEqual({ blocked: [a.id] });
        expect(await statusOf(a.id)).toBe('blocked');
      });

      it('blocks at once on a 410 (gone), even after a success since the run began', async () => {
        const a = await create();
        const e1 = await publishOne({ pending: [a.id], createdAt: T0 });
        await publishOne({ pending: [a.id], createdAt: T0 + 1 });
        const later = await publishOne({ pending: [a.id], createdAt: T0 + HOUR });
        const c1 = await claimOne(a.id, 'node-1', T0 + 10);
        expect(c1.eventId).toBe(e1.event.id);
        await store.recordAttempts([attemptResult(c1, T0 + 10, { kind: 'retry', nextAttemptAt: T0 + SECOND })], 'node-1');
        const c2 = await claimOne(a.id, 'node-1', T0 + 20);
        await store.recordAttempts([attemptResult(c2, T0 + 20, { kind: 'success' })], 'node-1');

        const again = await claimOne(a.id, 'node-1', T0 + SECOND);
        expect(again.id).toBe(c1.id);
        const changes = listen();
        const summary = await store.recordAttempts(
          [attemptResult(again, T0 + SECOND, { kind: 'give-up', gone: true }, { responseCode: 410, responseBody: 'gone', error: 'HTTP 410' })],
          'node-1',
        );
        expect(summary).toEqual({ blocked: [a.id] });
        expect(changes.calls).toBe(1);
        expect(await statusOf(a.id)).toBe('blocked');
        expect(await detail(c1.id)).toMatchObject({ status: 'DISABLED', response_code: 410 });
        expect(await deliveryOf(later.event.id, a.id)).toMatchObject({ status: 'RESYNC', next_attempt_on: null });
      });

      it('does not block again a subscriber already blocked, inactive or deleted', async () => {
        const a = await create();
        const inactive = await create();
        const deleted = await create();
        await publishOne({ pending: [a.id, inactive.id, deleted.id], createdAt: T0 });
        await publishOne({ pending: [a.id, inactive.id, deleted.id], createdAt: T0 + 1 });
        const { deliveries } = await store.claim([claimFor(a.id), claimFor(inactive.id), claimFor(deleted.id)], 'node-1', T0 + 10);
        expect(deliveries).toHaveLength(6);
        const of = (id: number) => deliveries.filter((d) => d.subscriberId === id);
        const [a1, a2] = of(a.id) as [ClaimedDelivery, ClaimedDelivery];

        const changes = listen();
        expect(await store.recordAttempts([attemptResult(a1, T0 + 20, { kind: 'give-up' })], 'node-1')).toEqual({ blocked: [a.id] });
        // a2 was in flight when a was blocked: giving it up, even on a 410, blocks nothing more.
        expect(await store.recordAttempts([attemptResult(a2, T0 + 30, { kind: 'give-up', gone: true })], 'node-1')).toEqual({ blocked: [] });
        expect(changes.calls).toBe(1);
        expect(await statusOf(a.id)).toBe('blocked');

        await store.setSubscriberStatus(TENANT, inactive.id, 'inactive', T0 + 40);
        await store.deleteSubscriber(TENANT, deleted.id, T0 + 40);
        const before = changes.calls;
        const late = await store.recordAttempts(
          [...of(inactive.id), ...of(deleted.id)].map((d) => attemptResult(d, T0 + 50, { kind: 'give-up', gone: d.subscriberId === deleted.id })),
          'node-1',
        );
        expect(late).toEqual({ blocked: [] });
        expect(changes.calls).toBe(before);
        expect(await statusOf(inactive.id)).toBe('inactive');
        const gone = await store.getSubscriberForDispatch(deleted.id);
        expect(gone!.deleted).toBe(true);
        expect(gone!.status).toBe('active');
      });

      it('blocks once per batch, and parks what the same batch would re-queue for the subscriber it blocks', async () => {
        const a = await create();
        for (let i = 0; i < 4; i++) await publishOne({ pending: [a.id], createdAt: T0 + i });
        const { deliveries } = await store.claim([claimFor(a.id)], 'node-1', T0 + 10);
        const [d1, d2, d3, d4] = [...deliveries].sort((x, y) => x.id - y.id) as [ClaimedDelivery, ClaimedDelivery, ClaimedDelivery, ClaimedDelivery];

        const changes = listen();
        const summary = await store.recordAttempts(
          [
            attemptResult(d1, T0 + 20, { kind: 'retry', nextAttemptAt: T0 + SECOND }),
            attemptResult(d2, T0 + 20, { kind: 'give-up' }),
            attemptResult(d3, T0 + 20, { kind: 'retry', nextAttemptAt: T0 + SECOND }),
            attemptResult(d4, T0 + 20, { kind: 'give-up' }),
          ],
          'node-1',
        );
        expect(summary).toEqual({ blocked: [a.id] });
        expect(changes.calls).toBe(1);
        expect(await statusOf(a.id)).toBe('blocked');
        for (const d of [d2, d4]) expect((await detail(d.id)).status).toBe('DISABLED');
        // Whether its result came before or after the give-up, a retried delivery waits as RESYNC, its attempt recorded.
        for (const d of [d1, d3]) {
          const parked = await detail(d.id);
          expect(parked).toMatchObject({ status: 'RESYNC', attempt: 1, next_attempt_on: null, last_attempted_on: iso(T0 + 20) });
          expect(parked.attempts).toHaveLength(1);
        }
        expect(await store.queueDepth()).toBe(0);
        expect(await store.dueSubscribers()).toEqual([]);
        expect((await store.claim([claimFor(a.id)], 'node-1', T0 + HOUR)).deliveries).toEqual([]);
      });
    });

    describe('releaseLeases', () => {
      it("makes an owner's leased deliveries due again at once, and only that owner's", async () => {
        const a = await create();
        const b = await create();
        for (let i = 0; i < 2; i++) await publishOne({ pending: [a.id, b.id], createdAt: T0 + i });
        const mine = await store.claim([claimFor(a.id)], 'node-1', T0 + 10);
        expect(mine.deliveries).toHaveLength(2);
        const theirs = await store.claim([claimFor(b.id)], 'node-2', T0 + 10);
        expect(theirs.deliveries).toHaveLength(2);

        expect(await store.releaseLeases('node-1', T0 + 500)).toBe(2);
        const reclaimed = await store.claim([claimFor(a.id), claimFor(b.id)], 'node-3', T0 + 500);
        expect(ids(reclaimed.deliveries)).toEqual(ids(mine.deliveries));
        expect(await store.releaseLeases('node-1', T0 + 600)).toBe(0);

        // node-1's late results no longer count.
        await store.recordAttempts(mine.deliveries.map((d) => attemptResult(d, T0 + 700, { kind: 'success' })), 'node-1');
        for (const d of mine.deliveries) expect((await detail(d.id)).status).toBe('PENDING');
      });

      it('hands back only the given deliveries, and only when the owner still holds them', async () => {
        const a = await create();
        for (let i = 0; i < 3; i++) await publishOne({ pending: [a.id], createdAt: T0 + i });
        const [d1, d2, d3] = (await store.claim([claimFor(a.id)], 'node-1', T0 + 10)).deliveries;
        expect(await store.releaseLeases('node-2', T0 + 20, [d1!.id])).toBe(0);
        expect(await store.releaseLeases('node-1', T0 + 20, [d1!.id, d2!.id])).toBe(2);
        const again = await store.claim([claimFor(a.id)], 'node-2', T0 + 20);
        expect(ids(again.deliveries)).toEqual(ids([d1!, d2!]));
        // d3 is still node-1's: its result counts; d1's late result from node-1 does not.
        await store.recordAttempts([attemptResult(d3!, T0 + 30, { kind: 'success' }), attemptResult(d1!, T0 + 30, { kind: 'success' })], 'node-1');
        expect((await detail(d3!.id)).status).toBe('SUCCESS');
        expect((await detail(d1!.id)).status).toBe('PENDING');
      });

      it('claims a delivery whose lease ran out even while one queued after it is still leased', async () => {
        const a = await create();
        for (let i = 0; i < 4; i++) await publishOne({ pending: [a.id], createdAt: T0 + i });
        const d1 = await claimOne(a.id, 'node-1', T0 + 10);
        const d2 = await claimOne(a.id, 'node-1', T0 + 10 + LEASE_MS / 2);
        // d1's lease has ended, d2's has not: d1 is due again, behind a leased delivery in the queue.
        const again = await store.claim([claimFor(a.id, 3)], 'node-1', T0 + 11 + LEASE_MS);
        expect(ids(again.deliveries)).not.toContain(d2.id);
        expect(ids(again.deliveries)).toContain(d1.id);
        expect(again.deliveries).toHaveLength(3);
      });

      it('leaves finished deliveries alone', async () => {
        const a = await create();
        await publishOne({ pending: [a.id] });
        const claimed = await claimOne(a.id, 'node-1', T0);
        await store.recordAttempts([attemptResult(claimed, T0 + 1, { kind: 'success' })], 'node-1');
        expect(await store.releaseLeases('node-1', T0 + 2)).toBe(0);
        expect((await detail(claimed.id)).status).toBe('SUCCESS');
      });
    });

    describe('subscriber status and deletion', () => {
      /** A subscriber with one PENDING and one FAILED delivery (the latter due at T0 + 5 s) and one SUCCESS. */
      async function subscriberWithQueue() {
        const a = await create();
        const failed = await publishOne({ pending: [a.id], createdAt: T0 });
        const succeeded = await publishOne({ pending: [a.id], createdAt: T0 + 1 });
        const pending = await publishOne({ pending: [a.id], createdAt: T0 + 2 * SECOND });
        const { deliveries } = await store.claim([claimFor(a.id, 2)], 'node-1', T0 + SECOND);
        const f = deliveries.find((d) => d.eventId === failed.event.id)!;
        const s = deliveries.find((d) => d.eventId === succeeded.event.id)!;
        await store.recordAttempts(
          [
            attemptResult(f, T0 + SECOND, { kind: 'retry', nextAttemptAt: T0 + 5 * SECOND }),
            attemptResult(s, T0 + SECOND, { kind: 'success' }),
          ],
          'node-1',
        );
        return {
          subscriber: a,
          failedId: f.id,
          succeededId: s.id,
          pendingId: (await deliveryOf(pending.event.id, a.id)).id,
        };
      }

      it('parks queued deliveries as RESYNC when a subscriber is set inactive', async () => {
        const { subscriber, failedId, succeededId, pendingId } = await subscriberWithQueue();
        expect(await store.setSubscriberStatus(TENANT, subscriber.id, 'inactive', T0 + 3 * SECOND)).toBe(true);
        expect((await detail(failedId)).status).toBe('RESYNC');
        expect((await detail(pendingId)).status).toBe('RESYNC');
        expect((await detail(succeededId)).status).toBe('SUCCESS');
        expect((await detail(failedId)).next_attempt_on).toBeNull();
        expect((await store.claim([claimFor(subscriber.id)], 'node-1', T0 + HOUR)).deliveries).toEqual([]);
        expect(await store.queueDepth()).toBe(0);
        expect(await store.dueSubscribers()).toEqual([]);
      });

      it('re-queues RESYNC deliveries as PENDING, due at once, when the subscriber is re-activated', async () => {
        const { subscriber, failedId, pendingId } = await subscriberWithQueue();
        await store.setSubscriberStatus(TENANT, subscriber.id, 'inactive', T0 + 3 * SECOND);
        // Published while inactive: parked from the start.
        const whileInactive = await publishOne({ resync: [subscriber.id], createdAt: T0 + 4 * SECOND });
        const parkedId = (await deliveryOf(whileInactive.event.id, subscriber.id)).id;

        const later = T0 + HOUR;
        expect(await store.setSubscriberStatus(TENANT, subscriber.id, 'active', later)).toBe(true);
        for (const id of [failedId, pendingId, parkedId]) {
          expect(await detail(id)).toMatchObject({ status: 'PENDING', next_attempt_on: iso(later) });
        }
        expect(await store.dueSubscribers()).toEqual([{ subscriberId: subscriber.id, nextAttemptAt: later }]);
        const { deliveries } = await store.claim([claimFor(subscriber.id)], 'node-1', later);
        expect(ids(deliveries)).toEqual([failedId, pendingId, parkedId].sort((x, y) => x - y));
        // A re-queued delivery starts a new run; its attempt count over all runs is kept.
        for (const d of deliveries) expect(d).toMatchObject({ runAttempts: 0, runStartedAt: null });
        expect(deliveries.find((d) => d.id === failedId)!.attemptCount).toBe(1);
      });

      it('parks and re-queues through replaceSubscriber as well', async () => {
        const { subscriber, pendingId } = await subscriberWithQueue();
        const { id: _id, organization_id: _o, extension_id: _e, created_on: _c, updated_on: _u, last_success_on: _s, last_failure_on: _f, ...input } = subscriber;
        await store.replaceSubscriber(TENANT, subscriber.id, { ...input, status: 'inactive' }, T0 + 3 * SECOND);
        expect((await detail(pendingId)).status).toBe('RESYNC');
        await store.replaceSubscriber(TENANT, subscriber.id, { ...input, status: 'active' }, T0 + HOUR);
        expect((await detail(pendingId)).status).toBe('PENDING');
        expect((await store.claim([claimFor(subscriber.id)], 'node-1', T0 + HOUR)).deliveries.map((d) => d.id)).toContain(pendingId);
      });

      it('cancels queued deliveries as DISABLED on delete and keeps their history', async () => {
        const { subscriber, failedId, succeededId, pendingId } = await subscriberWithQueue();
        const parked = await publishOne({ resync: [subscriber.id], createdAt: T0 + 3 * SECOND });
        const parkedId = (await deliveryOf(parked.event.id, subscriber.id)).id;

        expect(await store.deleteSubscriber(TENANT, subscriber.id, T0 + 4 * SECOND)).toBe(true);
        for (const id of [failedId, pendingId, parkedId]) {
          expect(await detail(id)).toMatchObject({ status: 'DISABLED', next_attempt_on: null });
        }
        const done = await detail(succeededId);
        expect(done).toMatchObject({ status: 'SUCCESS', attempt: 1 });
        expect(done.attempts).toHaveLength(1);
        expect((await detail(failedId)).attempts).toHaveLength(1);
        expect((await store.getEvent(TENANT, parked.event.id))!.deliveries).toHaveLength(1);
        expect((await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 20, subscriberId: subscriber.id })).page.item_total).toBe(4);

        expect((await store.claim([claimFor(subscriber.id)], 'node-1', T0 + HOUR)).deliveries).toEqual([]);
        expect(await store.queueDepth()).toBe(0);
        expect(await store.dueSubscribers()).toEqual([]);
      });

      it('keeps deliveries cancelled by delete DISABLED when results of attempts in flight arrive late', async () => {
        const a = await create();
        await publishOne({ pending: [a.id], createdAt: T0 });
        await publishOne({ pending: [a.id], createdAt: T0 + 1 });
        const { deliveries } = await store.claim([claimFor(a.id)], 'node-1', T0 + 10);
        expect(deliveries).toHaveLength(2);
        const [retried, parked] = deliveries as [ClaimedDelivery, ClaimedDelivery];

        expect(await store.deleteSubscriber(TENANT, a.id, T0 + 20)).toBe(true);
        await store.recordAttempts(
          [
            attemptResult(retried, T0 + 30, { kind: 'retry', nextAttemptAt: T0 + 5 * SECOND }),
            attemptResult(parked, T0 + 30, { kind: 'park' }),
          ],
          'node-1',
        );
        for (const d of deliveries) expect(await detail(d.id)).toMatchObject({ status: 'DISABLED', next_attempt_on: null });
        expect(await store.queueDepth()).toBe(0);
        expect(await store.dueSubscribers()).toEqual([]);
        expect((await store.claim([claimFor(a.id)], 'node-2', T0 + HOUR)).deliveries).toEqual([]);
        expect(await store.releaseLeases('node-1', T0 + HOUR)).toBe(0);
      });
    });

    describe('retryDelivery', () => {
      async function givenUp() {
        const a = await create();
        await publishOne({ pending: [a.id] });
        const claimed = await claimOne(a.id, 'node-1', T0);
        await store.recordAttempts([attemptResult(claimed, T0 + 10, { kind: 'give-up' })], 'node-1');
        // Giving up with no success blocked the subscriber; the operator has fixed the endpoint since.
        await store.setSubscriberStatus(TENANT, a.id, 'active', T0 + 20);
        return { subscriber: a, deliveryId: claimed.id };
      }

      it('queues a delivery again at once: PENDING, claimable, a new run', async () => {
        const { subscriber, deliveryId } = await givenUp();
        expect(await store.retryDelivery(TENANT, deliveryId, T0 + HOUR)).toBe('queued');
        expect(await detail(deliveryId)).toMatchObject({ status: 'PENDING', next_attempt_on: iso(T0 + HOUR), attempt: 1 });
        expect((await store.claim([claimFor(subscriber.id)], 'node-1', T0 + HOUR - 1)).deliveries).toEqual([]);
        const again = await claimOne(subscriber.id, 'node-1', T0 + HOUR);
        expect(again).toMatchObject({ id: deliveryId, attemptCount: 1, runAttempts: 0, runStartedAt: null });
      });

      it('parks the retried delivery while its subscriber is inactive', async () => {
        const { subscriber, deliveryId } = await givenUp();
        await store.setSubscriberStatus(TENANT, subscriber.id, 'inactive', T0 + SECOND);
        expect(await store.retryDelivery(TENANT, deliveryId, T0 + HOUR)).toBe('parked');
        expect((await detail(deliveryId)).status).toBe('RESYNC');
        expect((await store.claim([claimFor(subscriber.id)], 'node-1', T0 + HOUR)).deliveries).toEqual([]);

        await store.setSubscriberStatus(TENANT, subscriber.id, 'active', T0 + 2 * HOUR);
        expect((await claimOne(subscriber.id, 'node-1', T0 + 2 * HOUR)).id).toBe(deliveryId);
      });

      it('refuses a delivery whose subscriber was deleted', async () => {
        const { subscriber, deliveryId } = await givenUp();
        await store.deleteSubscriber(TENANT, subscriber.id, T0 + SECOND);
        expect(await store.retryDelivery(TENANT, deliveryId, T0 + HOUR)).toBe('subscriber-deleted');
        expect((await detail(deliveryId)).status).toBe('DISABLED');
        expect(await store.queueDepth()).toBe(0);
      });

      // Re-sending a FILTER_ERROR delivery would deliver what the subscriber's filter never admitted.
      it('refuses to retry a FILTER_ERROR delivery', async () => {
        const a = await create();
        const { event } = await publishOne({ deliveries: [{ subscriberId: a.id, status: 'FILTER_ERROR', error: 'filter failed' }] });
        const failed = await deliveryOf(event.id, a.id);
        expect(await store.retryDelivery(TENANT, failed.id, T0 + HOUR)).toBe('filtered');
        expect(await detail(failed.id)).toMatchObject({ status: 'FILTER_ERROR', error: 'filter failed' });
        expect((await store.claim([claimFor(a.id)], 'node-1', T0 + HOUR)).deliveries).toEqual([]);
      });

      it("answers not-found for another tenant's delivery or an unknown id", async () => {
        const { deliveryId } = await givenUp();
        expect(await store.retryDelivery(OTHER_EXTENSION, deliveryId, T0 + HOUR)).toBe('not-found');
        expect(await store.retryDelivery(OTHER_ORGANIZATION, deliveryId, T0 + HOUR)).toBe('not-found');
        expect(await store.retryDelivery(TENANT, deliveryId + 1000, T0 + HOUR)).toBe('not-found');
        expect((await detail(deliveryId)).status).toBe('DISABLED');
      });
    });

    describe('lifecycle', () => {
      const DAY = 24 * HOUR;
      const FAR = T0 + 1000 * HOUR;
      const SLUG_B = 'application/order/placed/v1';
      type BulkRetry = Parameters<Store['requeueDeliveries']>[1];
      const sorted = (...xs: number[]) => xs.sort((p, q) => p - q);

      /**
       * Deliveries by creation time, all of slug A unless said:
       *   a (active):   aDisabled T0 (gave up, which blocked a; re-activated since), aFailed T0+1s (retry far away),
       *                 aSuccess T0+2s, aFailedB T0+3s (slug B, retry far away), aPending T0+4s, aFiltered T0+5s (slug B)
       *   i (inactive): iSuccess T0+1s (succeeded, then i was set inactive)
       *   k (blocked):  kDisabled T0+2s (gave up, which blocked k)
       *   x (deleted):  xSuccess T0+1s, xCancelled T0+2s (queued when x was deleted, so DISABLED)
       *   o (another extension, active): oFailed T0 (retry far away)
       */
      async function seedRequeue() {
        const a = await create();
        const i = await create();
        const k = await create();
        const x = await create();
        const o = await create({}, OTHER_EXTENSION);

        await publishOne({ pending: [a.id], createdAt: T0 });
        const aDisabled = await settle(a.id, T0 + 10, { kind: 'give-up' });
        await store.setSubscriberStatus(TENANT, a.id, 'active', T0 + 20);
        await publishOne({ pending: [a.id], createdAt: T0 + SECOND });
        const aFailed = await settle(a.id, T0 + SECOND, { kind: 'retry', nextAttemptAt: FAR });
        await publishOne({ pending: [a.id], createdAt: T0 + 2 * SECOND });
        const aSuccess = await settle(a.id, T0 + 2 * SECOND, { kind: 'success' });
        await publishOne({ pending: [a.id], slug: SLUG_B, createdAt: T0 + 3 * SECOND });
        const aFailedB = await settle(a.id, T0 + 3 * SECOND, { kind: 'retry', nextAttemptAt: FAR });
        const pending = await publishOne({ pending: [a.id], createdAt: T0 + 4 * SECOND });
        const filtered = await publishOne({
          slug: SLUG_B,
          createdAt: T0 + 5 * SECOND,
          deliveries: [{ subscriberId: a.id, status: 'FILTER_ERROR', error: 'filter threw' }],
        });

        await publishOne({ pending: [i.id], createdAt: T0 + SECOND });
        const iSuccess = await settle(i.id, T0 + SECOND, { kind: 'success' });
        await store.setSubscriberStatus(TENANT, i.id, 'inactive', T0 + 30 * SECOND);

        await publishOne({ pending: [k.id], createdAt: T0 + 2 * SECOND });
        const kDisabled = await settle(k.id, T0 + 2 * SECOND, { kind: 'give-up' });

        await publishOne({ pending: [x.id], createdAt: T0 + SECOND });
        const xSuccess = await settle(x.id, T0 + SECOND, { kind: 'success' });
        const cancelled = await publishOne({ pending: [x.id], createdAt: T0 + 2 * SECOND });
        await store.deleteSubscriber(TENANT, x.id, T0 + 30 * SECOND);

        await publishOne({ pending: [o.id], createdAt: T0 }, OTHER_EXTENSION);
        const oFailed = await settle(o.id, T0 + 10, { kind: 'retry', nextAttemptAt: FAR });

        expect((await store.getSubscriber(TENANT, k.id))!.status).toBe('blocked');
        return {
          a, i, k, x, o,
          aDisabled, aFailed, aSuccess, aFailedB,
          aPending: (await deliveryOf(pending.event.id, a.id)).id,
          aFiltered: (await deliveryOf(filtered.event.id, a.id)).id,
          iSuccess, kDisabled, xSuccess,
          xCancelled: (await deliveryOf(cancelled.event.id, x.id)).id,
          oFailed,
        };
      }

      it('requeueDeliveries: queues matching deliveries of an active subscriber again: PENDING, due now, a new run', async () => {
        const s = await seedRequeue();
        const now = T0 + HOUR;
        const q: BulkRetry = { startDate: T0, endDate: T0 + DAY, subscriberIds: [s.a.id], statuses: ['FAILED', 'DISABLED'] };
        expect(await store.requeueDeliveries(TENANT, q, now)).toEqual({ queued: 3 });
        for (const id of [s.aDisabled, s.aFailed, s.aFailedB]) {
          expect(await detail(id)).toMatchObject({ status: 'PENDING', attempt: 1, next_attempt_on: iso(now) });
        }
        expect((await detail(s.aSuccess)).status).toBe('SUCCESS');
        expect(await detail(s.aPending)).toMatchObject({ status: 'PENDING', next_attempt_on: iso(T0 + 4 * SECOND) });
        // Due at `now` and not before; each starts a new run, its attempt count over all runs kept.
        expect(ids((await store.claim([claimFor(s.a.id)], 'node-1', now - 1)).deliveries)).toEqual([s.aPending]);
        const due = await store.claim([claimFor(s.a.id)], 'node-1', now);
        expect(ids(due.deliveries)).toEqual(sorted(s.aDisabled, s.aFailed, s.aFailedB));
        for (const d of due.deliveries) expect(d).toMatchObject({ attemptCount: 1, runAttempts: 0, runStartedAt: null });
      });

      it('requeueDeliveries: parks matching deliveries of an inactive or blocked subscriber as RESYNC', async () => {
        const s = await seedRequeue();
        const depth = await store.queueDepth();
        const q: BulkRetry = { startDate: T0, endDate: T0 + DAY, subscriberIds: [s.i.id, s.k.id], statuses: ['SUCCESS', 'DISABLED'] };
        expect(await store.requeueDeliveries(TENANT, q, T0 + HOUR)).toEqual({ queued: 2 });
        for (const id of [s.iSuccess, s.kDisabled]) expect(await detail(id)).toMatchObject({ status: 'RESYNC', next_attempt_on: null });
        expect(await store.queueDepth()).toBe(depth);
        expect((await store.claim([claimFor(s.i.id), claimFor(s.k.id)], 'node-1', T0 + HOUR)).deliveries).toEqual([]);
        expect((await store.getSubscriber(TENANT, s.i.id))!.status).toBe('inactive');
        expect((await store.getSubscriber(TENANT, s.k.id))!.status).toBe('blocked');

        // Re-activation sends a parked delivery, as a new run.
        await store.setSubscriberStatus(TENANT, s.k.id, 'active', T0 + 2 * HOUR);
        const again = await claimOne(s.k.id, 'node-1', T0 + 2 * HOUR);
        expect(again).toMatchObject({ id: s.kDisabled, attemptCount: 1, runAttempts: 0, runStartedAt: null });
      });

      it("requeueDeliveries: leaves deleted subscribers' deliveries, FILTER_ERROR records and other tenants alone", async () => {
        const s = await seedRequeue();
        const all: BulkRetry = { startDate: T0, endDate: T0 + DAY, statuses: ['PENDING', 'SUCCESS', 'FAILED', 'DISABLED', 'RESYNC', 'FILTER_ERROR'] };
        expect(await store.requeueDeliveries(OTHER_ORGANIZATION, all, T0 + HOUR)).toEqual({ queued: 0 });
        // Naming another tenant's subscribers does not reach them.
        expect(await store.requeueDeliveries(OTHER_EXTENSION, { ...all, subscriberIds: [s.a.id, s.i.id, s.k.id] }, T0 + HOUR)).toEqual({ queued: 0 });
        expect((await detail(s.aFailed)).status).toBe('FAILED');

        // a: five (not its FILTER_ERROR record); i and k: one each, parked; x: none. Named by subscriber too: each
        // counted once, queued and finished alike (SQLite reads a subscriber's two halves in two statements).
        const bySubscriber = await store.requeueDeliveries(TENANT, { ...all, subscriberIds: [s.a.id, s.i.id, s.k.id, s.x.id] }, T0 + HOUR);
        expect(bySubscriber).toEqual({ queued: 7 });
        expect(await store.requeueDeliveries(TENANT, all, T0 + HOUR)).toEqual({ queued: 7 });
        for (const id of [s.aDisabled, s.aFailed, s.aSuccess, s.aFailedB, s.aPending]) {
          expect(await detail(id)).toMatchObject({ status: 'PENDING', next_attempt_on: iso(T0 + HOUR) });
        }
        for (const id of [s.iSuccess, s.kDisabled]) expect((await detail(id)).status).toBe('RESYNC');
        expect(await detail(s.aFiltered)).toMatchObject({ status: 'FILTER_ERROR', error: 'filter threw', next_attempt_on: null });
        expect((await detail(s.xSuccess)).status).toBe('SUCCESS');
        expect(await detail(s.xCancelled)).toMatchObject({ status: 'DISABLED', next_attempt_on: null });
        expect((await store.claim([claimFor(s.x.id)], 'node-1', T0 + HOUR)).deliveries).toEqual([]);
        expect(await detail(s.oFailed, OTHER_EXTENSION)).toMatchObject({ status: 'FAILED', next_attempt_on: iso(FAR) });
      });

      it('requeueDeliveries: selects by creation time (both ends included), subscriber ids, event slugs and statuses', async () => {
        const s = await seedRequeue();
        const at = T0 + HOUR;
        const q = (over: Partial<BulkRetry>): BulkRetry => ({ startDate: T0, endDate: T0 + DAY, statuses: ['SUCCESS', 'FAILED', 'DISABLED'], ...over });
        // a's deliveries created from T0 + 1 s to T0 + 2 s, both ends included.
        expect(await store.requeueDeliveries(TENANT, q({ startDate: T0 + SECOND, endDate: T0 + 2 * SECOND, subscriberIds: [s.a.id] }), at)).toEqual({ queued: 2 });
        expect((await detail(s.aFailed)).status).toBe('PENDING');
        expect((await detail(s.aSuccess)).status).toBe('PENDING');
        expect((await detail(s.aDisabled)).status).toBe('DISABLED');
        expect((await detail(s.aFailedB)).status).toBe('FAILED');
        expect((await detail(s.iSuccess)).status).toBe('SUCCESS');
        // By event slug (one of those named matches): aFailedB only; its FILTER_ERROR sibling stays as it is.
        expect(await store.requeueDeliveries(TENANT, q({ eventSlugs: [SLUG_B, 'application/order/cancelled/v1'] }), at)).toEqual({ queued: 1 });
        expect((await detail(s.aFailedB)).status).toBe('PENDING');
        expect((await detail(s.aFiltered)).status).toBe('FILTER_ERROR');
        // One status, two subscribers.
        expect(await store.requeueDeliveries(TENANT, q({ statuses: ['DISABLED'], subscriberIds: [s.a.id, s.k.id] }), at)).toEqual({ queued: 2 });
        expect((await detail(s.aDisabled)).status).toBe('PENDING');
        expect((await detail(s.kDisabled)).status).toBe('RESYNC');
        expect((await detail(s.iSuccess)).status).toBe('SUCCESS');
        // Ranges with nothing in them.
        expect(await store.requeueDeliveries(TENANT, q({ startDate: T0 + 6 * SECOND }), at)).toEqual({ queued: 0 });
        expect(await store.requeueDeliveries(TENANT, q({ startDate: T0 + 1, endDate: T0 + SECOND - 1 }), at)).toEqual({ queued: 0 });
      });

      it('rotateSecret: getSubscriber shows the new secret, the dispatcher also the previous one and until when; listeners fire', async () => {
        const s = await create();
        const bystander = await create();
        const original = s.auth_meta.secret;
        const changes = listen();

        expect(await store.rotateSecret(TENANT, s.id, 'whsec_rotated_1', T0 + HOUR, T0 + SECOND)).toBe(true);
        expect(changes.calls).toBe(1);
        const read = await store.getSubscriber(TENANT, s.id);
        expect(read).toEqual({ ...s, auth_meta: { type: 'hmac', secret: 'whsec_rotated_1' }, updated_on: iso(T0 + SECOND) });
        expect(await store.getSubscriberForDispatch(s.id)).toEqual({ ...read, deleted: false, previousSecret: original, previousSecretUntil: T0 + HOUR });

        // Rotating again: the secret just replaced becomes the previous one.
        expect(await store.rotateSecret(TENANT, s.id, 'whsec_rotated_2', T0 + 3 * HOUR, T0 + 2 * HOUR)).toBe(true);
        expect(changes.calls).toBe(2);
        expect((await store.getSubscriber(TENANT, s.id))!.auth_meta).toEqual({ type: 'hmac', secret: 'whsec_rotated_2' });
        expect(await store.getSubscriberForDispatch(s.id)).toMatchObject({
          auth_meta: { type: 'hmac', secret: 'whsec_rotated_2' },
          previousSecret: 'whsec_rotated_1',
          previousSecretUntil: T0 + 3 * HOUR,
        });
        expect(await store.getSubscriberForDispatch(bystander.id)).toEqual({ ...bystander, deleted: false, previousSecret: null, previousSecretUntil: null });
      });

      it("rotateSecret: refuses an unknown, another tenant's or a deleted subscriber", async () => {
        const s = await create();
        const gone = await create();
        await store.deleteSubscriber(TENANT, gone.id, T0 + 1);
        const changes = listen();
        const refused: [Tenant, number][] = [
          [OTHER_EXTENSION, s.id],
          [OTHER_ORGANIZATION, s.id],
          [TENANT, s.id + 1000],
          [TENANT, gone.id],
        ];
        for (const [tenant, id] of refused) {
          expect(await store.rotateSecret(tenant, id, 'whsec_hijacked', T0 + HOUR, T0 + SECOND)).toBe(false);
        }
        expect(changes.calls).toBe(0);
        expect(await store.getSubscriber(TENANT, s.id)).toEqual(s);
        expect(await store.getSubscriberForDispatch(s.id)).toMatchObject({ auth_meta: s.auth_meta, previousSecret: null, previousSecretUntil: null });
        expect(await store.getSubscriberForDispatch(gone.id)).toMatchObject({ auth_meta: gone.auth_meta, previousSecret: null, previousSecretUntil: null });
      });

      /** Calls purgeExpired until it answers 0; returns the total and the answers. */
      async function purgeAll(cutoff: number, batch: number, now: number) {
        const answers: number[] = [];
        for (let i = 0; i < 100; i++) {
          const removed = await store.purgeExpired(cutoff, batch, now);
          answers.push(removed);
          if (removed === 0) break;
        }
        return { total: answers.reduce((x, y) => x + y, 0), answers };
      }

      it('purgeExpired: deletes finished deliveries created before the cutoff, attempts before it and events left without deliveries', async () => {
        const a = await create();
        const inactive = await create({ status: 'inactive' });
        const x = await create();
        const cutoff = T0 + DAY;
        const now = T0 + 40 * DAY;

        // Created before the cutoff.
        const success = await publishOne({ pending: [a.id], createdAt: T0 });
        const dSuccess = await settle(a.id, T0 + 10, { kind: 'success' });
        const failed = await publishOne({ pending: [a.id], createdAt: T0 + 1 });
        const dFailed = await settle(a.id, T0 + 20, { kind: 'retry', nextAttemptAt: FAR });
        const mixed = await publishOne({ pending: [a.id], resync: [inactive.id], createdAt: T0 + 2 });
        const dMixed = await settle(a.id, T0 + 30, { kind: 'success' });
        const filtered = await publishOne({ createdAt: T0 + 3, deliveries: [{ subscriberId: a.id, status: 'FILTER_ERROR', error: 'filter threw' }] });
        const parked = await publishOne({ resync: [inactive.id], createdAt: T0 + 4 });
        const cancelled = await publishOne({ pending: [x.id], createdAt: T0 + 5 });
        await store.deleteSubscriber(TENANT, x.id, T0 + 6);
        const empty = await publishOne({ createdAt: T0 + 7 });
        // At the cutoff and after it: kept, whatever their status.
        const atCutoff = await publishOne({ pending: [a.id], createdAt: cutoff });
        const dAtCutoff = await settle(a.id, cutoff, { kind: 'success' });
        const recent = await publishOne({ pending: [a.id], createdAt: cutoff + HOUR });
        const dRecent = await settle(a.id, cutoff + HOUR, { kind: 'success' });
        const emptyRecent = await publishOne({ createdAt: cutoff + 1 });
        // Old, but still queued (published last so the claims above did not take it).
        const pending = await publishOne({ pending: [a.id], createdAt: T0 + 8 });

        const { total, answers } = await purgeAll(cutoff, 100, now);
        // 3 attempts (before the cutoff), 4 deliveries (SUCCESS ×2, FILTER_ERROR, DISABLED), 4 events.
        expect(total).toBe(11);
        expect(answers.at(-1)).toBe(0);

        for (const e of [success, filtered, cancelled, empty]) expect(await store.getEvent(TENANT, e.event.id)).toBeNull();
        for (const id of [dSuccess, dMixed]) expect(await store.getDelivery(TENANT, id)).toBeNull();
        // An event keeps what is left of its deliveries.
        expect((await store.getEvent(TENANT, mixed.event.id))!.deliveries).toEqual([await deliveryOf(mixed.event.id, inactive.id)]);
        expect((await deliveryOf(mixed.event.id, inactive.id)).status).toBe('RESYNC');
        // Queued deliveries stay, though their old attempts go.
        expect(await detail(dFailed)).toMatchObject({ status: 'FAILED', attempt: 1, attempts: [] });
        expect((await deliveryOf(failed.event.id, a.id)).id).toBe(dFailed);
        expect((await deliveryOf(pending.event.id, a.id)).status).toBe('PENDING');
        expect((await deliveryOf(parked.event.id, inactive.id)).status).toBe('RESYNC');
        for (const id of [dAtCutoff, dRecent]) expect((await detail(id)).attempts).toHaveLength(1);
        for (const e of [atCutoff, recent, emptyRecent]) expect(await store.getEvent(TENANT, e.event.id)).not.toBeNull();
        expect((await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 20 })).page.item_total).toBe(6);
        expect(await store.purgeExpired(cutoff, 100, now)).toBe(0);
      });

      it('purgeExpired: deletes at most `batch` rows of each kind per call, and repeated calls reach 0', async () => {
        const a = await create();
        const events = [];
        for (let i = 0; i < 5; i++) {
          events.push((await publishOne({ pending: [a.id], idempotencyKey: `order-${i}`, createdAt: T0 + i * SECOND })).event);
          await settle(a.id, T0 + i * SECOND + 10, { kind: 'success' });
        }
        const cutoff = T0 + DAY;
        const now = T0 + 3 * DAY;
        const first = await store.purgeExpired(cutoff, 2, now);
        expect(first).toBeGreaterThan(0);
        expect(first).toBeLessThanOrEqual(4 * 2);
        expect((await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 20 })).page.item_total).toBe(3);

        const rest = await purgeAll(cutoff, 2, now);
        for (const n of rest.answers) expect(n).toBeLessThanOrEqual(4 * 2);
        // Two more calls at least remove the other three deliveries, then one answers 0.
        expect(rest.answers.length).toBeGreaterThanOrEqual(3);
        expect(rest.answers.at(-1)).toBe(0);
        // 5 attempts, 5 deliveries, 5 events, 5 idempotency keys.
        expect(first + rest.total).toBe(20);
        expect((await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 20 })).page.item_total).toBe(0);
        for (const e of events) expect(await store.getEvent(TENANT, e.id)).toBeNull();
        expect(await store.purgeExpired(cutoff, 2, now)).toBe(0);
      });

      it('purgeExpired: deletes idempotency keys older than the cutoff and than 24 hours before now', async () => {
        const a = await create();
        // Queued deliveries keep both events: only their keys can go.
        const older = await publishOne({ pending: [a.id], idempotencyKey: 'order-1', createdAt: T0 });
        const newer = await publishOne({ pending: [a.id], idempotencyKey: 'order-2', createdAt: T0 + 20 * HOUR });
        // The cutoff bounds keys too.
        expect(await store.purgeExpired(T0, 100, T0 + 100 * HOUR)).toBe(0);
        // A key younger than 24 hours stays, even when older than the cutoff.
        expect(await store.purgeExpired(T0 + 30 * HOUR, 100, T0 + 30 * HOUR)).toBe(1);
        expect(await store.purgeExpired(T0 + 30 * HOUR, 100, T0 + 30 * HOUR)).toBe(0);
        const repeat = await publishOne({ idempotencyKey: 'order-2', createdAt: T0 + 30 * HOUR });
        expect(repeat.result).toEqual({ event_id: newer.event.id, deliveries: 1, duplicate: true });
        expect(await store.purgeExpired(T0 + 30 * HOUR, 100, T0 + 45 * HOUR)).toBe(1);
        expect(await store.purgeExpired(T0 + 30 * HOUR, 100, T0 + 45 * HOUR)).toBe(0);
        for (const e of [older, newer]) expect((await deliveryOf(e.event.id, a.id)).status).toBe('PENDING');
      });
    });

    describe('listDeliveries', () => {
      /** Tenant: A and B of company 1, C of company 2; three events a second apart; one more in another tenant. */
      async function history() {
        const a = await create();
        const b = await create();
        const c = await create({ association: { company_id: 2, application_id: [], criteria: 'ALL' } });
        const foreign = await create({}, OTHER_EXTENSION);
        const e1 = (await publishOne({ slug: 'company/product/create/v1', pending: [a.id, b.id], createdAt: T0 })).event;
        const e2 = (await publishOne({ slug: 'application/order/placed/v1', pending: [a.id], createdAt: T0 + SECOND })).event;
        const e3 = (await publishOne({ slug: 'company/product/create/v1', companyId: 2, pending: [c.id], createdAt: T0 + 2 * SECOND })).event;
        await publishOne({ pending: [foreign.id], createdAt: T0 + 3 * SECOND }, OTHER_EXTENSION);
        const claimed = await claimOne(a.id, 'node-1', T0 + 5 * SECOND);
        await store.recordAttempts([attemptResult(claimed, T0 + 5 * SECOND, { kind: 'success' })], 'node-1');
        const d = {
          e1a: await deliveryOf(e1.id, a.id),
          e1b: await deliveryOf(e1.id, b.id),
          e2a: await deliveryOf(e2.id, a.id),
          e3c: await deliveryOf(e3.id, c.id),
        };
        return { a, b, c, foreign, e1, e2, e3, d };
      }

      it('lists deliveries newest first, scoped to the tenant', async () => {
        const { d } = await history();
        const page = await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 20 });
        expect(page.page).toEqual({ current: 1, size: 20, item_total: 4, has_next: false, type: 'number' });
        expect(page.items.map((i) => i.id).slice(0, 2)).toEqual([d.e3c.id, d.e2a.id]);
        expect(ids(page.items.slice(2))).toEqual(ids([d.e1a, d.e1b]));
        const created = page.items.map((i) => i.created_on);
        expect([...created].sort().reverse()).toEqual(created);
        // The claimed-and-succeeded one shows its outcome in the list.
        expect(page.items.find((i) => i.id === d.e1a.id)).toMatchObject({ status: 'SUCCESS', attempt: 1, response_code: 200, response_time: 137.25 });
        expect(page.items.find((i) => i.id === d.e3c.id)).toEqual(d.e3c);

        const other = await store.listDeliveries(OTHER_EXTENSION, { pageNo: 1, pageSize: 20 });
        expect(other.page.item_total).toBe(1);
        expect(other.items.map((i) => i.id)).not.toContain(d.e1a.id);
        expect((await store.listDeliveries(OTHER_ORGANIZATION, { pageNo: 1, pageSize: 20 })).items).toEqual([]);
      });

      it('lists deliveries created at the same time by id, highest first, across their events and pages', async () => {
        const [a, b, c] = [await create(), await create(), await create()];
        const e1 = (await publishOne({ pending: [a.id, b.id, c.id], createdAt: T0 })).event;
        const e2 = (await publishOne({ pending: [a.id, c.id], createdAt: T0 })).event;
        const e3 = (await publishOne({ pending: [b.id], createdAt: T0 - SECOND })).event;
        const all = [
          ...(await Promise.all([a, b, c].map((s) => deliveryOf(e1.id, s.id)))),
          ...(await Promise.all([a, c].map((s) => deliveryOf(e2.id, s.id)))),
        ];
        const sameTime = ids(all).reverse();
        const older = (await deliveryOf(e3.id, b.id)).id;
        const listed = async (q: { companyId?: number }) => [
          ...(await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 4, ...q })).items,
          ...(await store.listDeliveries(TENANT, { pageNo: 2, pageSize: 4, ...q })).items,
        ].map((i) => i.id);
        expect(await listed({})).toEqual([...sameTime, older]);
        expect(await listed({ companyId: 1 })).toEqual([...sameTime, older]);
      });

      it('filters by company_id, subscriber_id, status and event slug', async () => {
        const { a, b, d } = await history();
        const q = { pageNo: 1, pageSize: 20 };
        expect(ids((await store.listDeliveries(TENANT, { ...q, companyId: 1 })).items)).toEqual(ids([d.e1a, d.e1b, d.e2a]));
        expect(ids((await store.listDeliveries(TENANT, { ...q, companyId: 2 })).items)).toEqual([d.e3c.id]);
        expect(ids((await store.listDeliveries(TENANT, { ...q, subscriberId: a.id })).items)).toEqual(ids([d.e1a, d.e2a]));
        expect(ids((await store.listDeliveries(TENANT, { ...q, subscriberId: b.id })).items)).toEqual([d.e1b.id]);
        expect(ids((await store.listDeliveries(TENANT, { ...q, status: 'SUCCESS' })).items)).toEqual([d.e1a.id]);
        expect(ids((await store.listDeliveries(TENANT, { ...q, status: 'PENDING' })).items)).toEqual(ids([d.e1b, d.e2a, d.e3c]));
        expect((await store.listDeliveries(TENANT, { ...q, status: 'FAILED' })).items).toEqual([]);
        const products = await store.listDeliveries(TENANT, { ...q, eventSlug: 'company/product/create/v1' });
        expect(ids(products.items)).toEqual(ids([d.e1a, d.e1b, d.e3c]));
        expect(products.page.item_total).toBe(3);
        const combined = await store.listDeliveries(TENANT, { ...q, companyId: 1, subscriberId: a.id, eventSlug: 'company/product/create/v1', status: 'SUCCESS' });
        expect(ids(combined.items)).toEqual([d.e1a.id]);
      });

      it('filters by a creation time range, both ends included', async () => {
        const { d } = await history();
        const q = { pageNo: 1, pageSize: 20 };
        expect(ids((await store.listDeliveries(TENANT, { ...q, startDate: T0 + SECOND })).items)).toEqual(ids([d.e2a, d.e3c]));
        expect(ids((await store.listDeliveries(TENANT, { ...q, endDate: T0 + SECOND })).items)).toEqual(ids([d.e1a, d.e1b, d.e2a]));
        const window = await store.listDeliveries(TENANT, { ...q, startDate: T0 + SECOND, endDate: T0 + SECOND });
        expect(ids(window.items)).toEqual([d.e2a.id]);
        expect(window.page.item_total).toBe(1);
        expect((await store.listDeliveries(TENANT, { ...q, startDate: T0 + 3 * SECOND })).items).toEqual([]);
      });

      it('pages with page_no/page_size, item_total and has_next', async () => {
        const { d } = await history();
        const p1 = await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 3 });
        expect(p1.page).toEqual({ current: 1, size: 3, item_total: 4, has_next: true, type: 'number' });
        expect(p1.items).toHaveLength(3);
        const p2 = await store.listDeliveries(TENANT, { pageNo: 2, pageSize: 3 });
        expect(p2.page).toEqual({ current: 2, size: 3, item_total: 4, has_next: false, type: 'number' });
        expect(p2.items).toHaveLength(1);
        expect(ids([...p1.items, ...p2.items])).toEqual(ids(Object.values(d)));
        const filtered = await store.listDeliveries(TENANT, { pageNo: 1, pageSize: 1, companyId: 1 });
        expect(filtered.page).toEqual({ current: 1, size: 1, item_total: 3, has_next: true, type: 'number' });
      });

      it("hides another tenant's delivery from getDelivery", async () => {
        const { d } = await history();
        expect(await store.getDelivery(OTHER_EXTENSION, d.e1a.id)).toBeNull();
        expect(await store.getDelivery(OTHER_ORGANIZATION, d.e1a.id)).toBeNull();
        expect(await store.getDelivery(TENANT, d.e1a.id + 1000)).toBeNull();
        const own = await detail(d.e1b.id);
        expect(own).toEqual({ ...d.e1b, error: null, attempts: [] });
      });
    });

    describe('reports', () => {
      const SLUG_A = 'company/product/create/v1';
      const SLUG_B = 'application/order/placed/v1';
      const FAR = T0 + 1000 * HOUR;

      /** Claims the one due delivery of `subscriberId` at `at` and records an attempt with this code and duration. */
      async function attempt(subscriberId: number, at: number, responseCode: number, durationMs: number, outcome: AttemptOutcome) {
        const claimed = await claimOne(subscriberId, 'node-r', at);
        await store.recordAttempts(
          [attemptResult(claimed, at, outcome, { responseCode, durationMs, error: responseCode >= 200 && responseCode < 300 ? null : `HTTP ${responseCode}` })],
          'node-r',
        );
        return claimed.id;
      }

      /**
       * Known data (T0 = 08:00 UTC). Attempts, all in TENANT unless said:
       *   a (company 1): d1 500/100 ms @+10 s, 500/200 ms @+40 s, 200/50 ms @+70 s → SUCCESS; d2 200/30 ms @+20 s;
       *                  d5 200/21 ms @+50 s; d4 (created 09:00) 200/10.5 ms @09:00:05
       *   b (company 2): d3 0/2000 ms @+30 s → FAILED (retry far away)
       *   g (company 1): e1 (slug B) 503/40 ms @09:00:10 → gives up: DISABLED, g blocked, e2 (slug B) parked as RESYNC
       *   x (company 1): e3 queued at 10:00, then x deleted → DISABLED "subscriber deleted"
       *   a: e4 (slug B) PENDING at 10:00; a FILTER_ERROR record (slug B) at 10:00
       *   c (other extension): 200/999 ms @+15 s
       */
      async function seed() {
        const a = await create();
        const b = await create({ association: { company_id: 2, application_id: [], criteria: 'ALL' } });
        const g = await create();
        const x = await create();
        const c = await create({}, OTHER_EXTENSION);

        await publishOne({ pending: [a.id], createdAt: T0 });
        const d1 = await attempt(a.id, T0 + 10 * SECOND, 500, 100, { kind: 'retry', nextAttemptAt: T0 + 40 * SECOND });
        await publishOne({ pending: [a.id], createdAt: T0 + 1 });
        const d2 = await attempt(a.id, T0 + 20 * SECOND, 200, 30, { kind: 'success' });
        await publishOne({ pending: [b.id], companyId: 2, createdAt: T0 + 3 });
        const d3 = await attempt(b.id, T0 + 30 * SECOND, 0, 2000, { kind: 'retry', nextAttemptAt: FAR });
        expect(await attempt(a.id, T0 + 40 * SECOND, 500, 200, { kind: 'retry', nextAttemptAt: T0 + 70 * SECOND })).toBe(d1);
        await publishOne({ pending: [a.id], createdAt: T0 + 2 });
        const d5 = await attempt(a.id, T0 + 50 * SECOND, 200, 21, { kind: 'success' });
        expect(await attempt(a.id, T0 + 70 * SECOND, 200, 50, { kind: 'success' })).toBe(d1);
        await publishOne({ pending: [a.id], createdAt: T0 + HOUR });
        const d4 = await attempt(a.id, T0 + HOUR + 5 * SECOND, 200, 10.5, { kind: 'success' });

        const other = await publishOne({ pending: [c.id], createdAt: T0 }, OTHER_EXTENSION);
        const claimedC = await claimOne(c.id, 'node-r', T0 + 15 * SECOND);
        await store.recordAttempts([attemptResult(claimedC, T0 + 15 * SECOND, { kind: 'success' }, { responseCode: 200, durationMs: 999 })], 'node-r');
        expect(claimedC.eventId).toBe(other.event.id);

        await publishOne({ pending: [g.id], slug: SLUG_B, createdAt: T0 + HOUR + 1 });
        const e1 = await claimOne(g.id, 'node-r', T0 + HOUR + 10 * SECOND);
        const e2 = await publishOne({ pending: [g.id], slug: SLUG_B, createdAt: T0 + HOUR + 2 });
        const summary = await store.recordAttempts(
          [attemptResult(e1, T0 + HOUR + 10 * SECOND, { kind: 'give-up' }, { responseCode: 503, durationMs: 40 })],
          'node-r',
        );
        expect(summary.blocked).toEqual([g.id]);
        expect((await deliveryOf(e2.event.id, g.id)).status).toBe('RESYNC');

        const e3 = await publishOne({ pending: [x.id], createdAt: T0 + 2 * HOUR });
        await store.deleteSubscriber(TENANT, x.id, T0 + 2 * HOUR + SECOND);
        expect((await deliveryOf(e3.event.id, x.id)).status).toBe('DISABLED');
        await publishOne({ pending: [a.id], slug: SLUG_B, createdAt: T0 + 2 * HOUR + 2 });
        await publishOne({ slug: SLUG_B, createdAt: T0 + 2 * HOUR + 3, deliveries: [{ subscriberId: a.id, status: 'FILTER_ERROR', error: 'filter threw' }] });
        return { a, b, g, x, c, d1, d2, d3, d4, d5 };
      }

      const item = (at: number, code: number, time: string, attempts: number, total: number) => ({
        last_attempted_on: iso(at),
        response_code: code,
        response_time: time,
        attempt: attempts,
        total,
      });

      it('response_time_ts: one item per (minute, code), sorted by time then code, with means to two decimals', async () => {
        await seed();
        const report = await store.responseTimeReport(TENANT, { startDate: T0, endDate: T0 + 3 * HOUR, interval: 'minute' });
        expect(report.avg_response_time_ts).toEqual([
          item(T0, 0, '2000.00', 1, 1),
          item(T0, 200, '25.50', 2, 2),
          item(T0, 500, '150.00', 2, 1),
          item(T0 + 60 * SECOND, 200, '50.00', 1, 1),
          item(T0 + HOUR, 200, '10.50', 1, 1),
          item(T0 + HOUR, 503, '40.00', 1, 1),
        ]);
      });

      it('response_time_ts: hour and day buckets (UTC), attempt vs distinct deliveries', async () => {
        await seed();
        const hours = await store.responseTimeReport(TENANT, { startDate: T0, endDate: T0 + 3 * HOUR, interval: 'hour' });
        expect(hours.avg_response_time_ts).toEqual([
          item(T0, 0, '2000.00', 1, 1),
          // d2 30, d5 21, d1 50: 101 / 3
          item(T0, 200, '33.67', 3, 3),
          item(T0, 500, '150.00', 2, 1),
          item(T0 + HOUR, 200, '10.50', 1, 1),
          item(T0 + HOUR, 503, '40.00', 1, 1),
        ]);
        const days = await store.responseTimeReport(TENANT, { startDate: T0, endDate: T0 + 3 * HOUR, interval: 'day' });
        const midnight = Date.UTC(2027, 0, 15);
        expect(days.avg_response_time_ts).toEqual([
          item(midnight, 0, '2000.00', 1, 1),
          // 30 + 21 + 50 + 10.5 = 111.5 over 4
          item(midnight, 200, '27.88', 4, 4),
          item(midnight, 500, '150.00', 2, 1),
          item(midnight, 503, '40.00', 1, 1),
        ]);
      });

      it('response_time_ts: the range is inclusive on attempted_at', async () => {
        await seed();
        const first = T0 + 10 * SECOND;
        const only = await store.responseTimeReport(TENANT, { startDate: first, endDate: first, interval: 'minute' });
        expect(only.avg_response_time_ts).toEqual([item(T0, 500, '100.00', 1, 1)]);
        const after = await store.responseTimeReport(TENANT, { startDate: first + 1, endDate: T0 + HOUR + 5 * SECOND - 1, interval: 'hour' });
        expect(after.avg_response_time_ts).toEqual([item(T0, 0, '2000.00', 1, 1), item(T0, 200, '33.67', 3, 3), item(T0, 500, '200.00', 1, 1)]);
        const none = await store.responseTimeReport(TENANT, { startDate: T0 + 5 * HOUR, endDate: T0 + 6 * HOUR, interval: 'hour' });
        expect(none.avg_response_time_ts).toEqual([]);
      });

      it('response_time_ts: company and subscriber filters, and tenant isolation', async () => {
        const { a, b } = await seed();
        const range = { startDate: T0, endDate: T0 + 3 * HOUR, interval: 'hour' as const };
        const company2 = await store.responseTimeReport(TENANT, { ...range, companyId: 2 });
        expect(company2.avg_response_time_ts).toEqual([item(T0, 0, '2000.00', 1, 1)]);
        expect(await store.responseTimeReport(TENANT, { ...range, subscriberId: b.id })).toEqual(company2);
        const ofA = await store.responseTimeReport(TENANT, { ...range, subscriberId: a.id });
        expect(ofA.avg_response_time_ts.map((i) => [i.last_attempted_on, i.response_code, i.attempt])).toEqual([
          [iso(T0), 200, 3],
          [iso(T0), 500, 2],
          [iso(T0 + HOUR), 200, 1],
        ]);
        expect((await store.responseTimeReport(TENANT, { ...range, companyId: 2, subscriberId: a.id })).avg_response_time_ts).toEqual([]);

        const otherExtension = await store.responseTimeReport(OTHER_EXTENSION, range);
        expect(otherExtension.avg_response_time_ts).toEqual([item(T0, 200, '999.00', 1, 1)]);
        expect((await store.responseTimeReport(OTHER_ORGANIZATION, range)).avg_response_time_ts).toEqual([]);
        // A subscriber id of another tenant gives nothing, even though ids are unique store-wide.
        expect((await store.responseTimeReport(OTHER_EXTENSION, { ...range, subscriberId: a.id })).avg_response_time_ts).toEqual([]);
      });

      it('response_time_ts: an attempt counts under the company it was made for, and a deleted subscriber\'s still count', async () => {
        const m = await create();
        await publishOne({ pending: [m.id], createdAt: T0 });
        await attempt(m.id, T0 + 10 * SECOND, 200, 10, { kind: 'success' });
        // The subscriber moves to company 2; its next delivery and attempt are company 2's.
        const moved = await store.replaceSubscriber(TENANT, m.id, subscriberInput({ association: { company_id: 2, application_id: [], criteria: 'ALL' } }), T0 + 20 * SECOND);
        expect(moved?.association.company_id).toBe(2);
        await publishOne({ pending: [m.id], companyId: 2, createdAt: T0 + 30 * SECOND });
        await attempt(m.id, T0 + 40 * SECOND, 200, 30, { kind: 'success' });
        expect(await store.deleteSubscriber(TENANT, m.id, T0 + 50 * SECOND)).toBe(true);

        const range = { startDate: T0, endDate: T0 + HOUR, interval: 'hour' as const };
        expect((await store.responseTimeReport(TENANT, range)).avg_response_time_ts).toEqual([item(T0, 200, '20.00', 2, 2)]);
        expect((await store.responseTimeReport(TENANT, { ...range, companyId: 1 })).avg_response_time_ts).toEqual([item(T0, 200, '10.00', 1, 1)]);
        expect((await store.responseTimeReport(TENANT, { ...range, companyId: 2 })).avg_response_time_ts).toEqual([item(T0, 200, '30.00', 1, 1)]);
        expect((await store.responseTimeReport(TENANT, { ...range, subscriberId: m.id })).avg_response_time_ts).toEqual([item(T0, 200, '20.00', 2, 2)]);
        expect((await store.responseTimeReport(OTHER_EXTENSION, range)).avg_response_time_ts).toEqual([]);
      });

      it('delivery_summary: per event slug and overall, by current status of deliveries created in the range', async () => {
        await seed();
        const report = await store.deliverySummary(TENANT, { startDate: T0, endDate: T0 + 3 * HOUR, interval: 'hour' });
        expect(report).toEqual({
          delivery_event_level: [
            // e1 DISABLED (gave up), e2 RESYNC, e4 PENDING, FILTER_ERROR; one attempt of 40 ms
            { event: SLUG_B, success: 0, failed: 1, failed_percentage: 25, removed_webhooks: 1, total: 4, response_time: '40.00' },
            // d1 d2 d4 d5 SUCCESS, d3 FAILED, e3 cancelled; attempts 100+200+50+30+21+10.5+2000 = 2411.5 over 7
            { event: SLUG_A, success: 4, failed: 1, failed_percentage: 16.67, removed_webhooks: 1, total: 6, response_time: '344.50' },
          ],
          // 2451.5 ms over 8 attempts; 2 failed of 10
          delivery_summary: { success: 4, response_time: '306.44', failed_percentage: 20, removed_webhooks: 2 },
        });
      });

      it('delivery_summary: filters, ranges on created_at, tenant isolation, and an empty range', async () => {
        const { b, x } = await seed();
        const range = { startDate: T0, endDate: T0 + 3 * HOUR, interval: 'hour' as const };
        const ofB = await store.deliverySummary(TENANT, { ...range, subscriberId: b.id });
        expect(ofB).toEqual({
          delivery_event_level: [{ event: SLUG_A, success: 0, failed: 1, failed_percentage: 100, removed_webhooks: 0, total: 1, response_time: '2000.00' }],
          delivery_summary: { success: 0, response_time: '2000.00', failed_percentage: 100, removed_webhooks: 0 },
        });
        expect(await store.deliverySummary(TENANT, { ...range, companyId: 2 })).toEqual(ofB);
        const ofX = await store.deliverySummary(TENANT, { ...range, subscriberId: x.id });
        expect(ofX.delivery_event_level).toEqual([
          { event: SLUG_A, success: 0, failed: 0, failed_percentage: 0, removed_webhooks: 1, total: 1, response_time: null },
        ]);
        // Only deliveries created in the first hour (d1 d2 d3 d5), whatever the time of their attempts.
        const firstHour = await store.deliverySummary(TENANT, { startDate: T0, endDate: T0 + HOUR - 1, interval: 'hour' });
        expect(firstHour.delivery_event_level).toEqual([
          { event: SLUG_A, success: 3, failed: 1, failed_percentage: 25, removed_webhooks: 0, total: 4, response_time: '400.17' },
        ]);
        const empty = { delivery_event_level: [], delivery_summary: { success: 0, response_time: null, failed_percentage: 0, removed_webhooks: 0 } };
        expect(await store.deliverySummary(TENANT, { startDate: T0 + 5 * HOUR, endDate: T0 + 6 * HOUR, interval: 'hour' })).toEqual(empty);
        expect(await store.deliverySummary(OTHER_ORGANIZATION, range)).toEqual(empty);
        expect((await store.deliverySummary(OTHER_EXTENSION, range)).delivery_summary).toEqual({
          success: 1,
          response_time: '999.00',
          failed_percentage: 0,
          removed_webhooks: 0,
        });
      });

      it('delivery_ts: every bucket of the range, empty ones as zeros, by created_at', async () => {
        const { a } = await seed();
        const bucket = (at: number, success: number, failed: number, removed: number) => ({ timestamp: iso(at), success, failed, removed_webhooks: removed });
        const report = await store.deliveryTimeSeries(TENANT, { startDate: T0, endDate: T0 + 3 * HOUR, interval: 'hour' });
        expect(report.delivery_ts).toEqual([
          bucket(T0, 3, 1, 0),
          bucket(T0 + HOUR, 1, 1, 1),
          bucket(T0 + 2 * HOUR, 0, 0, 1),
          bucket(T0 + 3 * HOUR, 0, 0, 0),
        ]);
        // A range starting mid-bucket: buckets still start on the hour, and only deliveries in the range count.
        const shifted = await store.deliveryTimeSeries(TENANT, { startDate: T0 + HOUR / 2, endDate: T0 + 2 * HOUR + HOUR / 2, interval: 'hour' });
        expect(shifted.delivery_ts).toEqual([bucket(T0, 0, 0, 0), bucket(T0 + HOUR, 1, 1, 1), bucket(T0 + 2 * HOUR, 0, 0, 1)]);
        const minutes = await store.deliveryTimeSeries(TENANT, { startDate: T0, endDate: T0 + 2 * 60 * SECOND - 1, interval: 'minute' });
        expect(minutes.delivery_ts).toEqual([bucket(T0, 3, 1, 0), bucket(T0 + 60 * SECOND, 0, 0, 0)]);
        const ofA = await store.deliveryTimeSeries(TENANT, { startDate: T0, endDate: T0 + 3 * HOUR, interval: 'day', subscriberId: a.id });
        expect(ofA.delivery_ts).toEqual([bucket(Date.UTC(2027, 0, 15), 4, 0, 0)]);
        const otherOrg = await store.deliveryTimeSeries(OTHER_ORGANIZATION, { startDate: T0, endDate: T0 + HOUR, interval: 'hour' });
        expect(otherOrg.delivery_ts).toEqual([bucket(T0, 0, 0, 0), bucket(T0 + HOUR, 0, 0, 0)]);
      });
    });

    describe('api keys', () => {
      const key = (id: string, organizationId: string, name: string | null = null) => ({
        id,
        organizationId,
        name,
        hash: `sha256:${id}-${'0'.repeat(56)}`,
      });

      it('starts with no keys', async () => {
        expect(await store.countActiveApiKeys()).toBe(0);
        expect(await store.listApiKeys()).toEqual([]);
        expect(await store.findApiKey('hk_missing')).toBeNull();
      });

      it('inserts, finds, lists by organization, revokes and counts api keys', async () => {
        await store.insertApiKey(key('hk_1', 'org_acme', 'ci'), T0);
        await store.insertApiKey(key('hk_2', 'org_acme'), T0 + SECOND);
        await store.insertApiKey(key('hk_3', 'org_globex', 'ops'), T0 + 2 * SECOND);

        expect(await store.findApiKey('hk_1')).toEqual({
          id: 'hk_1',
          organization_id: 'org_acme',
          name: 'ci',
          hash: key('hk_1', 'org_acme').hash,
          created_on: iso(T0),
          revoked_on: null,
        });
        expect(await store.findApiKey('hk_missing')).toBeNull();
        expect((await store.listApiKeys('org_acme')).map((k) => k.id)).toEqual(['hk_1', 'hk_2']);
        expect((await store.listApiKeys('org_globex')).map((k) => k.id)).toEqual(['hk_3']);
        expect(await store.listApiKeys('org_nobody')).toEqual([]);
        expect((await store.listApiKeys()).map((k) => k.id).sort()).toEqual(['hk_1', 'hk_2', 'hk_3']);
        expect(await store.countActiveApiKeys()).toBe(3);

        expect(await store.revokeApiKey('hk_2', T0 + HOUR)).toBe(true);
        expect(await store.findApiKey('hk_2')).toMatchObject({ id: 'hk_2', revoked_on: iso(T0 + HOUR) });
        expect(await store.countActiveApiKeys()).toBe(2);
        // Revoked keys stay listed (with revoked_on), and revoking twice or an unknown key changes nothing.
        expect((await store.listApiKeys('org_acme')).map((k) => k.id)).toEqual(['hk_1', 'hk_2']);
        expect(await store.revokeApiKey('hk_2', T0 + 2 * HOUR)).toBe(false);
        expect((await store.findApiKey('hk_2'))!.revoked_on).toBe(iso(T0 + HOUR));
        expect(await store.revokeApiKey('hk_missing', T0 + HOUR)).toBe(false);
        expect(await store.countActiveApiKeys()).toBe(2);
      });
    });
  });
}
