-- Secret rotation, blocking, and the indexes retention purges by (as SQLite's 003_lifecycle.sql).

-- After a rotation the previous secret still signs, alongside the new one, until previous_secret_until.
ALTER TABLE subscribers ADD COLUMN previous_secret TEXT;
ALTER TABLE subscribers ADD COLUMN previous_secret_until BIGINT;

CREATE INDEX attempts_by_time ON attempts (attempted_at);
CREATE INDEX deliveries_by_created ON deliveries (created_at);
CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created_at);
