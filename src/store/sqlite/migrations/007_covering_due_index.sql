-- A claim reads a subscriber's queue (id, next_attempt_at) from deliveries_due and counts the queued rows up to its last
-- lease, but SQLite still read each row from the table to check `status IN ('PENDING', 'FAILED')`: the partial index's
-- own condition is not taken as settled for an IN list. With status in the index those reads are the index's alone
-- (EXPLAIN QUERY PLAN: "USING COVERING INDEX"). The index's entries change with status already, so a write costs the
-- same.
DROP INDEX IF EXISTS deliveries_due;
CREATE INDEX deliveries_due ON deliveries (subscriber_id, next_attempt_at, id, status) WHERE status IN ('PENDING', 'FAILED');
