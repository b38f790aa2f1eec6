-- The queue state of a delivery moves to a narrow table of its own. Recording an attempt's result moved the delivery
-- out of deliveries_due (status and next_attempt_at changed), so every recorded result wrote a new row version with an
-- entry in each of the table's indexes: on the bench the biggest share of PostgreSQL's time. Now deliveries keeps the
-- delivery's record (status, counters, last response) in columns no index holds, not even in a partial index's
-- predicate, so recording a result is a HOT update there; the queue's own rows are inserted at publish and deleted
-- when the delivery finishes.
--
-- A delivery has a delivery_queue row exactly while its status is PENDING, FAILED (due at next_attempt_at) or RESYNC
-- (parked: next_attempt_at NULL). The lease (lease_owner, lease_until) lives here; deliveries.lease_owner and
-- deliveries.lease_until are no longer written. So do the counters a claim hands to the dispatcher (attempt_count,
-- run_attempts, run_started_at), of which deliveries keeps a copy for reading: a claim that takes over an expired
-- lease just as its holder records a result locks the queue row's newest version, and reads those counters from it;
-- read from deliveries, they would come from the claim's snapshot, from before that result. There is no foreign key to deliveries: its check would cost a lookup
-- per published delivery, and the only statements that delete deliveries (retention) take finished ones, which have no
-- queue row.
--
-- Nodes of an earlier version keep leasing in deliveries and would not see this table: stop them before a node of
-- this version starts (the migration runs under the advisory lock, once).
CREATE TABLE delivery_queue (
  delivery_id     BIGINT PRIMARY KEY,
  subscriber_id   BIGINT NOT NULL,
  next_attempt_at BIGINT,
  lease_owner     TEXT,
  lease_until     BIGINT,
  attempt_count   INTEGER NOT NULL DEFAULT 0,
  run_attempts    INTEGER NOT NULL DEFAULT 0,
  run_started_at  BIGINT
) WITH (fillfactor = 80);

INSERT INTO delivery_queue (delivery_id, subscriber_id, next_attempt_at, lease_owner, lease_until, attempt_count,
  run_attempts, run_started_at)
SELECT id, subscriber_id, next_attempt_at, lease_owner,
  -- A lease taken before migration 006 ended at next_attempt_at.
  CASE WHEN lease_owner IS NOT NULL THEN coalesce(lease_until, next_attempt_at) END,
  attempt_count, run_attempts, run_started_at
FROM deliveries WHERE status IN ('PENDING', 'FAILED', 'RESYNC');

-- The claim's index, in due order per subscriber; parked rows are found through the second.
CREATE INDEX delivery_queue_due ON delivery_queue (subscriber_id, next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX delivery_queue_parked ON delivery_queue (subscriber_id) WHERE next_attempt_at IS NULL;

DROP INDEX deliveries_due;
DROP INDEX deliveries_resync;
UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL OR lease_until IS NOT NULL;
