-- (subscriber_id, status) was written on every publish and twice on every finished attempt (the row moved from
-- PENDING to SUCCESS), yet queries for queued deliveries use deliveries_due and listings deliveries_by_subscriber_created.
-- What it served alone is finding a subscriber's parked (RESYNC) deliveries: a partial index of those rows only.
DROP INDEX IF EXISTS deliveries_by_subscriber;
CREATE INDEX deliveries_resync ON deliveries (subscriber_id) WHERE status = 'RESYNC';
