// What both adapters' migration 009 tests expect of a store whose database held attempts written before it, with
// their tenant: a kept subscriber's (company 1, 10 ms), a deleted subscriber's (company 2, 30 ms) and another tenant's
// (company 1, 999 ms), all within an hour of `from`.
import { expect } from 'vitest';
import type { Tenant } from '../../src/domain/types.ts';
import type { Store } from '../../src/store/port.ts';

/** The response-time report finds them by tenant, company and subscriber, and leaves the other tenant's out. */
export async function expectOldAttemptsReported(store: Store, tenant: Tenant, from: number, kept: number, other: number): Promise<void> {
  const range = { startDate: from, endDate: from + 3_600_000, interval: 'hour' as const };
  const mean = async (filter: object) =>
    (await store.responseTimeReport(tenant, { ...range, ...filter })).avg_response_time_ts.map((i) => [i.response_time, i.attempt]);
  expect(await mean({})).toEqual([['20.00', 2]]);
  expect(await mean({ companyId: 2 })).toEqual([['30.00', 1]]);
  expect(await mean({ subscriberId: kept })).toEqual([['10.00', 1]]);
  expect(await mean({ subscriberId: other })).toEqual([]);
}
