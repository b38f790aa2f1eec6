// A tenant's deliveries, found through their events (migration 011). A delivery is only ever created with its event and
// repeats the event's tenant, company and created_at, which never change; the events' indexes by tenant hold one entry
// per event, where indexes of the deliveries' own took one per delivery (ten per event on the bench) at every publish.
import type { Tenant } from '../../domain/types.ts';
import type { EventRange } from '../columns.ts';

export interface TenantRows {
  /** FROM clause: the tenant's events `e` (tenantEvents) or, joined to each, its deliveries `d` (tenantDeliveries). */
  from: string;
  /** Conditions on `e` that its index answers: tenant, company, time range. */
  clauses: string[];
  args: (string | number)[];
}

/**
 * INDEXED BY: without statistics the planner may pick events_by_created for a time range. The events are read in
 * (created_at, seq) order.
 */
export function tenantEvents(tenant: Tenant, range: EventRange): TenantRows {
  const clauses = ['e.organization_id = ?', 'e.extension_id = ?'];
  const args: (string | number)[] = [tenant.organizationId, tenant.extensionId];
  const add = (clause: string, value: number | undefined) => {
    if (value !== undefined) (clauses.push(clause), args.push(value));
  };
  add('e.company_id = ?', range.companyId);
  add('e.created_at >= ?', range.startDate);
  add('e.created_at <= ?', range.endDate);
  return { from: `events e INDEXED BY ${range.companyId === undefined ? 'events_by_tenant' : 'events_by_company'}`, clauses, args };
}

/** The tenant's events, each joined with its deliveries (in id order), never the deliveries first. */
export function tenantDeliveries(tenant: Tenant, range: EventRange): TenantRows {
  const events = tenantEvents(tenant, range);
  return { ...events, from: `${events.from} CROSS JOIN deliveries d INDEXED BY deliveries_by_event ON d.event_seq = e.seq` };
}
