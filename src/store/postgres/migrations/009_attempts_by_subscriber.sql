-- As SQLite's migration 009: writing an attempt updated four indexes, two of them keyed by the tenant's two text ids
-- (attempts_by_tenant_time, attempts_by_company_time), for the response-time report alone. A subscriber belongs to one
-- tenant for good, so the attempts of a tenant are the attempts of its subscribers: the report reads them through
-- attempts_by_subscriber_time, deleted subscribers included (reports.ts), and the tenant's copies in each attempt row go
-- with the two indexes. company_id stays: a subscriber can move to another company, an attempt cannot.
--
-- Nodes of an earlier version still write those columns: stop them before a node of this version starts (the migration
-- runs under the advisory lock, once).
DROP INDEX IF EXISTS attempts_by_tenant_time;
DROP INDEX IF EXISTS attempts_by_company_time;
ALTER TABLE attempts DROP COLUMN IF EXISTS organization_id;
ALTER TABLE attempts DROP COLUMN IF EXISTS extension_id;
ALTER TABLE attempts DROP COLUMN IF EXISTS event_slug;
-- subscribers_by_tenant leaves out deleted subscribers, whose attempts a report still counts.
CREATE INDEX IF NOT EXISTS subscribers_by_tenant_with_deleted ON subscribers (organization_id, extension_id);
