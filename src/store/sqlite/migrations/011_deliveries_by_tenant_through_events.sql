-- Each delivery of a publish wrote an entry in two indexes keyed by the tenant's two text ids (deliveries_by_tenant,
-- deliveries_by_company_created), for the listings, reports and bulk retries by tenant. A delivery is only ever created
-- with its event and repeats the event's tenant, company and created_at, none of which changes: those queries find a
-- tenant's deliveries through its events instead (tenant-deliveries.ts), whose indexes take one entry per event.
CREATE INDEX events_by_tenant ON events (organization_id, extension_id, created_at);
CREATE INDEX events_by_company ON events (organization_id, extension_id, company_id, created_at);
DROP INDEX IF EXISTS deliveries_by_tenant;
DROP INDEX IF EXISTS deliveries_by_company_created;
