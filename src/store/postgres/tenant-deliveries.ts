// A tenant's deliveries, found through their events (migration 008), as on SQLite (sqlite/tenant-deliveries.ts): a
// delivery is only ever created with its event and repeats the event's tenant, company and created_at, so the events'
// indexes by tenant and company, one entry per event, find them.
import type { Tenant } from '../../domain/types.ts';
import type { EventRange } from '../columns.ts';
import type { Params } from './db.ts';

/** Conditions on the events `e` of the tenant, its company and time range (their indexes answer them). */
export function tenantEvents(p: Params, tenant: Tenant, range: EventRange): string[] {
  const clauses = [`e.organization_id = ${p.add(tenant.organizationId)}`, `e.extension_id = ${p.add(tenant.extensionId)}`];
  if (range.companyId !== undefined) clauses.push(`e.company_id = ${p.add(range.companyId)}`);
  if (range.startDate !== undefined) clauses.push(`e.created_at >= ${p.add(range.startDate)}`);
  if (range.endDate !== undefined) clauses.push(`e.created_at <= ${p.add(range.endDate)}`);
  return clauses;
}

/** FROM clause: the events `e`, each joined with its deliveries `d`. */
export const THROUGH_EVENTS = 'events e JOIN deliveries d ON d.event_seq = e.seq';
