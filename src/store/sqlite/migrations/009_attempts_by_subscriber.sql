-- Writing an attempt updated four indexes, two of them keyed by the tenant's two text ids; recording a result was the
-- largest share of a delivery's CPU at the store. A subscriber belongs to one tenant for good, so the attempts of a
-- tenant are the attempts of its subscribers: the response-time report reads them through attempts_by_subscriber_time,
-- one range per subscriber of the tenant, deleted ones included (reports.ts), and the tenant's copies in each attempt
-- row go with the two indexes. company_id stays: a subscriber can move to another company, an attempt cannot.
DROP INDEX IF EXISTS attempts_by_tenant_time;
DROP INDEX IF EXISTS attempts_by_company_time;
ALTER TABLE attempts DROP COLUMN organization_id;
ALTER TABLE attempts DROP COLUMN extension_id;
ALTER TABLE attempts DROP COLUMN event_slug;
-- subscribers_by_tenant leaves out deleted subscribers, whose attempts a report still counts.
CREATE INDEX subscribers_by_tenant_with_deleted ON subscribers (organization_id, extension_id);
