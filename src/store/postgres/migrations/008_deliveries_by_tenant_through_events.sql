-- As SQLite's migration 011: each delivery of a publish wrote an entry in two indexes keyed by the tenant's two text
-- ids (deliveries_by_tenant, deliveries_by_company_created), for the listing, reports and bulk retry by tenant. A
-- delivery is only ever created with its event and repeats the event's tenant, company and created_at, none of which
-- changes: those queries find a tenant's deliveries through its events instead (tenant-deliveries.ts), whose indexes
-- take one entry per event. Queries by subscriber keep deliveries_by_subscriber_created.
CREATE INDEX IF NOT EXISTS events_by_tenant ON events (organization_id, extension_id, created_at);
CREATE INDEX IF NOT EXISTS events_by_company ON events (organization_id, extension_id, company_id, created_at);
DROP INDEX IF EXISTS deliveries_by_tenant;
DROP INDEX IF EXISTS deliveries_by_company_created;
