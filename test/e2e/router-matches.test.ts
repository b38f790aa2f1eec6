// The router remembers which subscriptions each (slug, application) matches, per (tenant, company), across publishes:
// the remembered matches must follow subscriber changes and stay bounded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MATCHES_KEPT, Router } from '../../src/delivery/router.ts';
import type { SubscriberInput, Tenant } from '../../src/domain/types.ts';
import { Rules } from '../../src/rules/index.ts';
import type { Store } from '../../src/store/index.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { subscriberInput } from '../helpers/store.ts';

const TENANT: Tenant = { organizationId: 'org_acme', extensionId: 'ext_orders' };

/** A subscriber of `slugs`, without filters, for the given applications only. */
const input = (name: string, slugs: string[], applicationIds: string[] = ['app_storefront']): SubscriberInput =>
  subscriberInput({
    name,
    association: { company_id: 1, application_id: applicationIds, criteria: 'SPECIFIC-EVENTS' },
    events: slugs.map((slug) => ({ slug, filters: null, reducer: null })),
  });

describe('Router: matches remembered across publishes', () => {
  let dir: string;
  let store: Store;
  let rules: Rules;
  let router: Router;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hookd-router-'));
    store = openSqliteStore(join(dir, 'hookd.db'));
    rules = new Rules();
    router = new Router(store, rules);
  });

  afterEach(async () => {
    rules.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Which subscribers (by name) one single-event publish reaches. */
  async function reached(slug: string, applicationId: string | null = 'app_storefront'): Promise<string[]> {
    const [result] = await router.publish(TENANT, 1, [{ event_slug: slug, payload: { n: 1 }, application_id: applicationId }]);
    const event = await store.getEvent(TENANT, result!.event_id);
    const names = new Map((await store.listSubscribers(TENANT, { pageNo: 1, pageSize: 100 })).items.map((s) => [s.id, s.name]));
    return event!.deliveries.map((d) => names.get(d.subscriber_id)!).sort();
  }

  it('gives each publish of a slug the same subscribers, and each application its own', async () => {
    await store.createSubscriber(TENANT, input('exact', ['application/order/placed/v1']), 1);
    await store.createSubscriber(TENANT, input('wildcard', ['application/order/*/v1']), 1);
    await store.createSubscriber(TENANT, input('other-app', ['application/order/*/v1'], ['app_pos']), 1);
    for (let i = 0; i < 3; i++) expect(await reached('application/order/placed/v1')).toEqual(['exact', 'wildcard']);
    expect(await reached('application/order/placed/v1', 'app_pos')).toEqual(['other-app']);
    expect(await reached('application/order/shipped/v1')).toEqual(['wildcard']);
    expect(await reached('application/order/placed/v1')).toEqual(['exact', 'wildcard']);
    // Three (slug, application) pairs were published, each matched once and remembered.
    expect(router.rememberedMatches).toBe(3);
  });

  it('forgets them when a subscriber changes: the next publish follows the new subscriptions', async () => {
    const a = await store.createSubscriber(TENANT, input('a', ['application/order/placed/v1']), 1);
    expect(await reached('application/order/placed/v1')).toEqual(['a']);
    await store.replaceSubscriber(TENANT, a.id, input('a', ['application/order/shipped/v1']), 2);
    expect(await reached('application/order/placed/v1')).toEqual([]);
    await store.createSubscriber(TENANT, input('b', ['application/order/*/v1']), 3);
    expect(await reached('application/order/placed/v1')).toEqual(['b']);
  });

  it(`remembers at most ${MATCHES_KEPT} (slug, application) pairs`, async () => {
    await store.createSubscriber(TENANT, input('all', ['application/order/*/v1']), 1);
    const events = Array.from({ length: MATCHES_KEPT + 100 }, (_, i) => ({ event_slug: `application/order/s${i}/v1`, payload: {}, application_id: 'app_storefront' }));
    await router.publish(TENANT, 1, events);
    expect(router.rememberedMatches).toBeGreaterThan(0);
    expect(router.rememberedMatches).toBeLessThanOrEqual(MATCHES_KEPT);
  });
});
