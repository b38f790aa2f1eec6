-- Indexes the reports aggregate over (src/store/postgres/reports.ts), as in SQLite's 002_reports.sql. Tenant-wide
-- reports use the range indexes of 001 (attempts_by_tenant_time, deliveries_by_tenant); these serve the company_id
-- and subscriber_id filters, so a report on one company or subscriber reads only its rows in the range.

CREATE INDEX IF NOT EXISTS attempts_by_company_time ON attempts (organization_id, extension_id, company_id, attempted_at);
CREATE INDEX IF NOT EXISTS attempts_by_subscriber_time ON attempts (subscriber_id, attempted_at);
CREATE INDEX IF NOT EXISTS deliveries_by_company_created ON deliveries (organization_id, extension_id, company_id, created_at);
CREATE INDEX IF NOT EXISTS deliveries_by_subscriber_created ON deliveries (subscriber_id, created_at);
